/* parse.c - runs the reentrant scanner and the pure parser over one schema text. */
#include "parse.h"
#include "parser.h"
#define YYSTYPE SCHEMA_YYSTYPE
#define YYLTYPE SCHEMA_YYLTYPE
#include "lexer.h"

int parse_schema(parse_ctx_t *pc, const char *src, size_t len, bool trace)
{
    yyscan_t scanner;
    lex_state_t ls;
    int before = pc->diag->errors;

    ls.pc = pc;
    ls.line = 1;
    ls.col = 1;
    ls.end_line = 0;
    ls.end_col = 0;
    if (schema_yylex_init_extra(&ls, &scanner) != 0) {
        diag_plain_error(pc->diag, "cannot initialise the scanner");
        return 1;
    }
    if (setjmp(ls.fatal) == 0) {
        schema_yy_scan_bytes(src, (int)len, scanner);
        schema_yydebug = trace;
        if (schema_yyparse(scanner, pc) != 0 && pc->diag->errors == before)
            diag_plain_error(pc->diag, "parser failure (out of memory)");
    }
    schema_yylex_destroy(scanner);
    return pc->diag->errors - before;
}
