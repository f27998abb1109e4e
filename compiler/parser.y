/* parser.y - grammar of the BARE schema language (draft-devault-bare); actions only build the AST. */
%require "3.8"
%define api.pure full
%define api.prefix {schema_yy}
%define api.token.prefix {TOK_}
%define api.location.type {struct src_span}
%define parse.error custom
%define parse.lac full
%define parse.trace
%locations
%expect 0
%param {yyscan_t scanner}
%parse-param {struct parse_ctx *pc}

%code requires {
#include "ast.h"
#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif
struct parse_ctx;
#include "parse.h"

struct field_list { ast_field_t *head, **tail; size_t count; };
struct value_list { ast_enum_value_t *head, **tail; size_t count; };
struct member_list { ast_member_t *head, **tail; size_t count; };
}

%code provides {
int schema_yylex(SCHEMA_YYSTYPE *yylval, SCHEMA_YYLTYPE *yylloc, yyscan_t scanner);
}

%code {
#include <string.h>

static void schema_yyerror(SCHEMA_YYLTYPE *loc, yyscan_t scanner, struct parse_ctx *pc,
                           const char *msg);

static src_span_t join(src_span_t a, src_span_t b)
{
    src_span_t s = {a.first_line, a.first_column, b.last_line, b.last_column};
    return s;
}

static ast_type_t *node(struct parse_ctx *pc, ast_kind_t kind, src_span_t span)
{
    return ast_new_type(pc->arena, kind, span);
}

static ast_type_t *sized(struct parse_ctx *pc, ast_type_t *t, const lex_token_t *n, src_span_t at)
{
    t->length = n->num;
    t->length_overflow = n->overflow;
    t->length_span = at;
    return t;
}

static void add_decl(struct parse_ctx *pc, const char *name, src_span_t span, ast_type_t *type)
{
    ast_decl_t *d = bare_arena_alloc(pc->arena, sizeof *d, _Alignof(ast_decl_t));
    if (!d)
        return;
    memset(d, 0, sizeof *d);
    d->name = name;
    d->span = span;
    d->type = type;
    d->index = pc->schema->count++;
    *pc->tail = d;
    pc->tail = &d->next;
}

/* The old spellings parse in every mode so that draft mode can name the new one. */
static void legacy(struct parse_ctx *pc, src_span_t span, const char *hint)
{
    if (pc->legacy)
        return;
    diag_error(pc->diag, span, "legacy BARE syntax; %s", hint);
}

#define YYLLOC_DEFAULT(Cur, Rhs, N)                                                                \
    do {                                                                                           \
        if (N) {                                                                                   \
            (Cur).first_line = YYRHSLOC(Rhs, 1).first_line;                                        \
            (Cur).first_column = YYRHSLOC(Rhs, 1).first_column;                                    \
            (Cur).last_line = YYRHSLOC(Rhs, N).last_line;                                          \
            (Cur).last_column = YYRHSLOC(Rhs, N).last_column;                                      \
        } else {                                                                                   \
            (Cur).first_line = (Cur).last_line = YYRHSLOC(Rhs, 0).last_line;                       \
            (Cur).first_column = (Cur).last_column = YYRHSLOC(Rhs, 0).last_column;                 \
        }                                                                                          \
    } while (0)
}

%union {
    lex_token_t tok;
    ast_type_t *type;
    ast_field_t *field;
    ast_enum_value_t *value;
    ast_member_t *member;
    struct field_list fields;
    struct value_list values;
    struct member_list members;
}

%token <tok> KW_TYPE "type" KW_ENUM "enum" KW_STRUCT "struct" KW_UNION "union"
%token <tok> KW_OPTIONAL "optional" KW_LIST "list" KW_MAP "map"
%token <tok> PRIM "primitive type" IDENT "identifier" INTEGER "integer"
%token <tok> INVALID "invalid character"

%type <type> type
%type <tok> type_name field_name
%type <field> field
%type <fields> fields
%type <value> enum_value
%type <values> enum_values
%type <member> member
%type <members> members union_body

%%

schema
    : %empty
    | schema decl
    ;

decl
    : "type" type_name type             { add_decl(pc, $2.text, @2, $3); }
    | "type" error                      { yyerrok; }
    | "enum" type_name '{' enum_values '}'
        {
            legacy(pc, join(@1, @2), "write 'type <name> enum { ... }'");
            ast_type_t *t = node(pc, AST_ENUM, join(@1, @5));
            t->values = $4.head;
            t->count = $4.count;
            add_decl(pc, $2.text, @2, t);
        }
    | "enum" type_name PRIM '{' enum_values '}'
        {
            /* go-bare's 'enum Name u8 { ... }' encodes the values as that type, not as a uint:
               no draft enum has that encoding, so compiling it as one would change the wire. */
            diag_error(pc->diag, @3,
                       "'enum %s %s' encodes its values as %s, but BARE enums are uint "
                       "(drop '%s' only if every peer encodes uint)",
                       $2.text, $3.text, $3.text, $3.text);
        }
    | "struct" type_name '{' fields '}'
        {
            legacy(pc, join(@1, @2), "write 'type <name> struct { ... }'");
            ast_type_t *t = node(pc, AST_STRUCT, join(@1, @5));
            t->fields = $4.head;
            t->count = $4.count;
            add_decl(pc, $2.text, @2, t);
        }
    | "union" type_name '{' union_body '}'
        {
            legacy(pc, join(@1, @2), "write 'type <name> union { ... }'");
            ast_type_t *t = node(pc, AST_UNION, join(@1, @5));
            t->members = $4.head;
            t->count = $4.count;
            add_decl(pc, $2.text, @2, t);
        }
    ;

type_name
    : IDENT
    | PRIM
        {
            diag_error(pc->diag, @1, "'%s' is a built-in type and cannot be redefined", $1.text);
            $$ = $1;
        }
    ;

type
    : PRIM                              { $$ = node(pc, $1.prim, @1); }
    | PRIM '[' INTEGER ']'
        {
            if ($1.prim != AST_DATA) {
                diag_error(pc->diag, join(@1, @4), "only 'data' and 'list<T>' take a fixed length");
                $$ = node(pc, $1.prim, @1);
            } else {
                $$ = sized(pc, node(pc, AST_DATA_FIXED, join(@1, @4)), &$3, @3);
            }
        }
    | PRIM '<' INTEGER '>'
        {
            legacy(pc, join(@1, @4), "write 'data[N]' for fixed-length data");
            $$ = sized(pc, node(pc, AST_DATA_FIXED, join(@1, @4)), &$3, @3);
        }
    | "optional" '<' type '>'
        {
            $$ = node(pc, AST_OPTIONAL, join(@1, @4));
            $$->elem = $3;
        }
    | "list" '<' type '>'
        {
            $$ = node(pc, AST_LIST, join(@1, @4));
            $$->elem = $3;
        }
    | "list" '<' type '>' '[' INTEGER ']'
        {
            $$ = sized(pc, node(pc, AST_LIST_FIXED, join(@1, @7)), &$6, @6);
            $$->elem = $3;
        }
    | "map" '<' type '>' '<' type '>'
        {
            $$ = node(pc, AST_MAP, join(@1, @7));
            $$->key = $3;
            $$->elem = $6;
        }
    | "map" '<' type ',' type '>'
        {
            if (!pc->vbare)
                diag_error(pc->diag, join(@1, @6), "vbare's map syntax; write 'map<K><V>'");
            $$ = node(pc, AST_MAP, join(@1, @6));
            $$->key = $3;
            $$->elem = $5;
        }
    | "map" '[' type ']' type
        {
            legacy(pc, join(@1, @4), "write 'map<K><V>'");
            $$ = node(pc, AST_MAP, join(@1, @5));
            $$->key = $3;
            $$->elem = $5;
        }
    | '[' ']' type
        {
            legacy(pc, join(@1, @2), "write 'list<T>'");
            $$ = node(pc, AST_LIST, join(@1, @3));
            $$->elem = $3;
        }
    | '[' INTEGER ']' type
        {
            legacy(pc, join(@1, @3), "write 'list<T>[N]'");
            $$ = sized(pc, node(pc, AST_LIST_FIXED, join(@1, @4)), &$2, @2);
            $$->elem = $4;
        }
    | '(' members ')'
        {
            legacy(pc, join(@1, @3), "write 'union { A | B }'");
            $$ = node(pc, AST_UNION, join(@1, @3));
            $$->members = $2.head;
            $$->count = $2.count;
        }
    | "enum" '{' enum_values '}'
        {
            $$ = node(pc, AST_ENUM, join(@1, @4));
            $$->values = $3.head;
            $$->count = $3.count;
        }
    | "union" '{' union_body '}'
        {
            $$ = node(pc, AST_UNION, join(@1, @4));
            $$->members = $3.head;
            $$->count = $3.count;
        }
    | "struct" '{' fields '}'
        {
            $$ = node(pc, AST_STRUCT, join(@1, @4));
            $$->fields = $3.head;
            $$->count = $3.count;
        }
    | '{' fields '}'
        {
            /* The first BARE drafts wrote a struct without its keyword (go-bare: "[]{ ... }"). */
            legacy(pc, @1, "write 'struct { ... }'");
            $$ = node(pc, AST_STRUCT, join(@1, @3));
            $$->fields = $2.head;
            $$->count = $2.count;
        }
    | IDENT
        {
            /* Those drafts spelt str "string"; no type can be named so (names are capitalised). */
            if (pc->legacy && strcmp($1.text, "string") == 0) {
                $$ = node(pc, AST_STR, @1);
            } else {
                $$ = node(pc, AST_NAMED, @1);
                $$->ref = $1.text;
            }
        }
    | "optional" '<' error '>'          { $$ = node(pc, AST_ERROR, join(@1, @4)); }
    | "list" '<' error '>'              { $$ = node(pc, AST_ERROR, join(@1, @4)); }
    | "map" '<' error '>' '<' type '>'  { $$ = node(pc, AST_ERROR, join(@1, @7)); }
    | "enum" '{' error '}'              { $$ = node(pc, AST_ERROR, join(@1, @4)); }
    | "union" '{' error '}'             { $$ = node(pc, AST_ERROR, join(@1, @4)); }
    | "struct" '{' error '}'            { $$ = node(pc, AST_ERROR, join(@1, @4)); }
    | '{' error '}'                     { $$ = node(pc, AST_ERROR, join(@1, @3)); }
    ;

enum_values
    : %empty                            { $$.head = NULL; $$.tail = &$$.head; $$.count = 0; }
    | enum_values enum_value
        {
            $$ = $1;
            if ($$.count == 0)
                $$.tail = &$$.head;
            *$$.tail = $2;
            $$.tail = &$2->next;
            $$.count++;
        }
    ;

enum_value
    : IDENT
        {
            $$ = bare_arena_alloc(pc->arena, sizeof *$$, _Alignof(ast_enum_value_t));
            memset($$, 0, sizeof *$$);
            $$->name = $1.text;
            $$->span = @1;
        }
    | IDENT '=' INTEGER
        {
            $$ = bare_arena_alloc(pc->arena, sizeof *$$, _Alignof(ast_enum_value_t));
            memset($$, 0, sizeof *$$);
            $$->name = $1.text;
            $$->span = @1;
            $$->explicit_value = true;
            $$->value = $3.num;
            $$->value_span = @3;
            if ($3.overflow)
                diag_error(pc->diag, @3,
                           "the value of '%s' is larger than 18446744073709551615 (2^64-1)",
                           $1.text);
        }
    ;

union_body
    : %empty                            { $$.head = NULL; $$.tail = &$$.head; $$.count = 0; }
    | members
    | members '|'                       { $$ = $1; }
    | '|' members                       { $$ = $2; }
    | '|' members '|'                   { $$ = $2; }
    ;

members
    : member                            { $$.head = $1; $$.tail = &$1->next; $$.count = 1; }
    | members '|' member
        {
            $$ = $1;
            *$$.tail = $3;
            $$.tail = &$3->next;
            $$.count++;
        }
    ;

member
    : type
        {
            $$ = bare_arena_alloc(pc->arena, sizeof *$$, _Alignof(ast_member_t));
            memset($$, 0, sizeof *$$);
            $$->type = $1;
        }
    | type '=' INTEGER
        {
            $$ = bare_arena_alloc(pc->arena, sizeof *$$, _Alignof(ast_member_t));
            memset($$, 0, sizeof *$$);
            $$->type = $1;
            $$->explicit_tag = true;
            $$->tag = $3.num;
            $$->tag_span = @3;
            if ($3.overflow)
                diag_error(pc->diag, @3,
                           "the tag of '%s' is larger than 18446744073709551615 (2^64-1)",
                           ast_spelling(pc->arena, $1));
        }
    ;

fields
    : %empty                            { $$.head = NULL; $$.tail = &$$.head; $$.count = 0; }
    | fields field
        {
            $$ = $1;
            if ($$.count == 0)
                $$.tail = &$$.head;
            *$$.tail = $2;
            $$.tail = &$2->next;
            $$.count++;
        }
    ;

field
    : field_name ':' type
        {
            $$ = bare_arena_alloc(pc->arena, sizeof *$$, _Alignof(ast_field_t));
            memset($$, 0, sizeof *$$);
            $$->name = $1.text;
            $$->span = @1;
            $$->type = $3;
        }
    ;

/* Keywords are valid field names: "data: data" is a fine field. */
field_name
    : IDENT | PRIM | "type" | "enum" | "struct" | "union" | "optional" | "list" | "map"
    ;

%%

static void schema_yyerror(SCHEMA_YYLTYPE *loc, yyscan_t scanner, struct parse_ctx *pc,
                           const char *msg)
{
    (void)scanner;
    diag_error(pc->diag, *loc, "%s", msg);
}

/* How a token reads in a message: keywords and punctuation quoted, classes with an article. */
static const char *token_phrase(yysymbol_kind_t k, char *buf, size_t size)
{
    switch (k) {
    case YYSYMBOL_YYEOF:
        return "end of file";
    case YYSYMBOL_PRIM:
        return "a primitive type";
    case YYSYMBOL_IDENT:
        return "a name";
    case YYSYMBOL_INTEGER:
        return "an integer";
    case YYSYMBOL_INVALID:
        return "an invalid character";
    default: {
        const char *name = yysymbol_name(k);
        if (name[0] == '\'')
            return name;
        snprintf(buf, size, "'%s'", name);
        return buf;
    }
    }
}

/* Drops the punctuation token c from the set (its symbol number is bison's to choose). */
static void drop_char(bool *has, char c)
{
    for (int k = 0; k < YYNTOKENS; k++) {
        const char *name = yysymbol_name((yysymbol_kind_t)k);
        if (name[0] == '\'' && name[1] == c && name[2] == '\'' && name[3] == '\0')
            has[k] = false;
    }
}

/*
 * The expected tokens, with the sets that mean one thing folded into a phrase: every token that
 * starts a type is "a type", every field name "a field name". The legacy forms the grammar
 * accepts only to explain them (top-level enum/struct/union, '[' and '(' types) are not offered.
 */
static size_t expected_phrases(const yypcontext_t *ctx, const char **out, size_t max, char *buf,
                               size_t bufsize)
{
    yysymbol_kind_t exp[YYNTOKENS];
    bool has[YYNTOKENS] = {false};
    int count = yypcontext_expected_tokens(ctx, exp, YYNTOKENS);
    for (int i = 0; i < count; i++)
        has[exp[i]] = true;

    static const yysymbol_kind_t type_start[] = {YYSYMBOL_PRIM,        YYSYMBOL_IDENT,
                                                 YYSYMBOL_KW_OPTIONAL, YYSYMBOL_KW_LIST,
                                                 YYSYMBOL_KW_MAP,      YYSYMBOL_KW_ENUM,
                                                 YYSYMBOL_KW_UNION,    YYSYMBOL_KW_STRUCT};
    bool all_types = true;
    for (size_t i = 0; i < sizeof type_start / sizeof type_start[0]; i++)
        all_types = all_types && has[type_start[i]];
    /* Field names are every word, keywords included; "type" never starts a type. */
    bool a_field = all_types && has[YYSYMBOL_KW_TYPE];
    bool a_type = all_types && !a_field;
    bool a_type_name = has[YYSYMBOL_IDENT] && has[YYSYMBOL_PRIM] && count == 2;
    bool top_level = has[YYSYMBOL_KW_TYPE] && has[YYSYMBOL_YYEOF];

    size_t n = 0;
    if (a_field || a_type || a_type_name) {
        out[n++] = a_field ? "a field name" : a_type ? "a type" : "a type name";
        for (size_t i = 0; i < sizeof type_start / sizeof type_start[0]; i++)
            has[type_start[i]] = false;
        has[YYSYMBOL_KW_TYPE] = false;
    }
    if (a_type) {
        drop_char(has, '['); /* legacy []T */
        drop_char(has, '('); /* legacy (A | B) */
        drop_char(has, '{'); /* legacy { fields } */
    }
    if (a_field)
        drop_char(has, '<'); /* after a primitive: legacy data<N> */
    drop_char(has, ','); /* vbare's map<K, V> */
    if (top_level)
        has[YYSYMBOL_KW_ENUM] = has[YYSYMBOL_KW_STRUCT] = has[YYSYMBOL_KW_UNION] = false;
    size_t used = 0;
    for (int k = 0; k < YYNTOKENS; k++) {
        if (!has[k] || k == YYSYMBOL_YYerror || k == YYSYMBOL_YYUNDEF)
            continue;
        if (n == max || used + 16 > bufsize)
            return 0; /* too many to be a useful hint */
        const char *p = token_phrase((yysymbol_kind_t)k, buf + used, bufsize - used);
        if (p == buf + used)
            used += strlen(p) + 1;
        out[n++] = p;
    }
    return n;
}

/*
 * "unexpected name 'Foo'; expected ':'" — the token's text comes from the source. A second
 * report at the same token (error recovery resuming in front of it) is dropped.
 */
static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner, struct parse_ctx *pc)
{
    enum { MAX_EXPECTED = 6 };
    const char *expected[MAX_EXPECTED];
    char names[256];
    yysymbol_kind_t got = yypcontext_token(ctx);
    const SCHEMA_YYLTYPE *loc = yypcontext_location(ctx);
    char msg[512];
    size_t n = 0;
    (void)scanner;

    if (pc->syntax_errors > 0 && memcmp(&pc->last_syntax_error, loc, sizeof *loc) == 0)
        return 0;
    pc->syntax_errors++;
    pc->last_syntax_error = *loc;

    const char *text = NULL;
    size_t text_len = 0;
    if (got != YYSYMBOL_YYEOF && loc->first_line == loc->last_line) {
        const char *p = pc->diag->src;
        const char *end = p + pc->diag->src_len;
        for (int line = 1; line < loc->first_line && p < end; line++) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            p = nl ? nl + 1 : end;
        }
        if (p + loc->last_column <= end && loc->first_column >= 1) {
            text = p + loc->first_column - 1;
            text_len = (size_t)(loc->last_column - loc->first_column + 1);
        }
    }

    if (got == YYSYMBOL_INVALID && text) {
        /* A byte no token starts with: the expected tokens would not help. */
        unsigned char c = (unsigned char)text[0];
        if (c >= 0x20 && c < 0x7f)
            snprintf(msg, sizeof msg, "stray '%c' in schema", c);
        else
            snprintf(msg, sizeof msg, "stray byte 0x%02x in schema (only ASCII is allowed)", c);
        diag_error(pc->diag, *loc, "%s", msg);
        return 0;
    }
    if (got == YYSYMBOL_YYEOF) {
        n += (size_t)snprintf(msg + n, sizeof msg - n, "unexpected end of file");
    } else if (text && text_len < 64 &&
               (got == YYSYMBOL_IDENT || got == YYSYMBOL_PRIM || got == YYSYMBOL_INTEGER)) {
        n += (size_t)snprintf(msg + n, sizeof msg - n, "unexpected %s '%.*s'",
                              got == YYSYMBOL_IDENT  ? "name"
                              : got == YYSYMBOL_PRIM ? "primitive type"
                                                     : "integer",
                              (int)text_len, text);
    } else {
        char buf[64];
        n += (size_t)snprintf(msg + n, sizeof msg - n, "unexpected %s",
                              token_phrase(got, buf, sizeof buf));
    }

    size_t count = expected_phrases(ctx, expected, MAX_EXPECTED, names, sizeof names);
    if (count > 0 && n < sizeof msg) {
        n += (size_t)snprintf(msg + n, sizeof msg - n, "; expected ");
        for (size_t i = 0; i < count && n < sizeof msg; i++)
            n += (size_t)snprintf(msg + n, sizeof msg - n, "%s%s",
                                  i == 0 ? "" : i == count - 1 ? " or " : ", ", expected[i]);
    }
    diag_error(pc->diag, *loc, "%s", msg);
    return 0;
}
