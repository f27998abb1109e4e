/*
 * cbproto.h - what a host callback command (secure-exec-callback, running as a guest process
 * of a VM) and the sidecar say to each other over the VM's callback socket. One connection
 * per invocation: the program sends one request and reads one reply; closing the connection
 * before the reply cancels the invocation.
 *
 * Every message: a header (magic, then the length of what follows), integers little-endian.
 * Request records: a tag byte, a u32 length, that many bytes: ALIAS (once), CWD (once), ARG
 * (each argument after the alias, in order), and, when the arguments are exactly
 * "<tool> --json-file <path>", FILE (what the program read from path) or FILE_ERR (a u32
 * errno: it could not). Reply: u32 exit code, u32 length + stdout bytes, u32 length + stderr
 * bytes. The program resolves nothing: the sidecar checks and decides everything itself, so a
 * guest talking to the socket directly can do no more than the command can.
 */
#ifndef SC_CBPROTO_H
#define SC_CBPROTO_H

/* Where a VM's guests find the program and the socket (supervisor.c mounts both). */
#define SC_CB_PROGRAM "/dev/secure-exec-callback"
#define SC_CB_SOCKET "/dev/secure-exec-callback.sock"
/* Where guests find each alias (an executable script naming SC_CB_PROGRAM). */
#define SC_CB_BIN_DIR "/usr/bin"

#define SC_CB_MAGIC 0x42434553u      /* "SECB" */
#define SC_CB_HEADER 8               /* magic, length */
#define SC_CB_MAX_REQUEST (4u << 20) /* a request's records, all of them */
#define SC_CB_MAX_FILE (2u << 20)    /* what the program sends of a --json-file */

enum {
    SC_CB_ALIAS = 'A',
    SC_CB_CWD = 'C',
    SC_CB_ARG = 'a',
    SC_CB_FILE = 'F',
    SC_CB_FILE_ERR = 'E',
};

#endif
