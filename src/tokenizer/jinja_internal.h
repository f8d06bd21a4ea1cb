/* jinja_internal.h -- what the two halves of the chat-template interpreter share: the values,
 * tokens and tree nodes, the interpreter state J (one arena per render), the error helper and
 * the arena allocator. jinja_parse.c turns a template into a tree (dp_jinja_parse); jinja.c
 * evaluates it (dp_jinja_render, jinja.h). Not a public header. */
#ifndef DP_TOKENIZER_JINJA_INTERNAL_H
#define DP_TOKENIZER_JINJA_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "core/buf.h"
#include "tokenizer/jinja.h"

/* ---- values --------------------------------------------------------------------------------- */
typedef struct jstr { const char *s; size_t n; } jstr;
typedef struct jv jv;
typedef struct jlist { size_t n; jv *v; int tuple; } jlist;
typedef struct jdict { size_t n, cap; jstr *k; jv *v; int ns; } jdict; /* ns: a namespace() */
enum { V_UNDEF, V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_LIST, V_DICT };
struct jv {
  int t;
  union { int b; int64_t i; double f; jstr s; jlist *l; jdict *d; } u;
  const char *why; /* V_UNDEF: what is undefined ("'x' is undefined"), for error messages */
};

/* ---- tokens and tree ------------------------------------------------------------------------ */
enum { T_TEXT, T_VAR, T_VAR_END, T_BLOCK, T_BLOCK_END, T_NAME, T_STR, T_INT, T_FLOAT, T_OP, T_EOF };
typedef struct jtok { int k, line; jstr s; int64_t i; double f; } jtok;

enum { S_TEXT, S_OUT, S_IF, S_FOR, S_SET, S_BREAK, S_CONTINUE, S_BLOCK,
       E_LIT, E_NAME, E_ATTR, E_INDEX, E_SLICE, E_CALL, E_METHOD, E_FILTER, E_TEST, E_NOT, E_NEG,
       E_BIN, E_AND, E_OR, E_COND, E_LIST, E_DICT };
typedef struct jnode jnode;
struct jnode {
  int k, line, op;       /* op: E_BIN operator, E_TEST negation, E_NEG sign */
  jnode *a, *b, *c, *d;  /* children (meaning per kind, see the parser) */
  jnode **kid;           /* [nkid] block statements, call arguments, list items, dict k/v pairs */
  jstr *kw;              /* [nkid] E_CALL keyword names (s == NULL: positional) */
  size_t nkid;
  jstr s, s2;            /* names, text */
  jv lit;
};
/* binary operators */
enum { OP_ADD = 1, OP_SUB, OP_MUL, OP_DIV, OP_FDIV, OP_MOD, OP_POW, OP_CAT, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT,
       OP_GE, OP_IN, OP_NOTIN };

typedef struct jvar { jstr name; jv v; } jvar;
typedef struct jchunk { struct jchunk *next; size_t used, cap; max_align_t data[]; } jchunk;

typedef struct J {
  jchunk *mem; size_t mem_total;
  const char *src; size_t len;     /* normalised source */
  jtok *tok; size_t ntok, captok;  /* lexed tokens */
  size_t pos;                      /* parser position in tok */
  int depth, loops;                /* parser nesting; enclosing for-loops */
  dp_buf *out; size_t out0;
  jvar *vars; size_t nvars, capvars, scope; /* scope stack; vars[scope..] = innermost scope */
  long steps, iters;
  int nest;                        /* eval/exec recursion depth */
} J;

#define UNSUP(line, ...) dp_jinja_fail(DP_ERR_UNSUPPORTED, line, __VA_ARGS__)
#define BAD(line, ...) dp_jinja_fail(DP_ERR_FORMAT, line, __VA_ARGS__)
#define INVAL(line, ...) dp_jinja_fail(DP_ERR_INVALID_ARG, line, __VA_ARGS__)
#define TRY(x) do { dp_status st_ = (x); if (st_) return st_; } while (0)
/* "chat template line N: ..." with the status code (DP_ERR_UNSUPPORTED: a construct this subset
 * lacks; DP_ERR_FORMAT: a syntax error; DP_ERR_INVALID_ARG: the template failed on this input). */
dp_status dp_jinja_fail(dp_status code, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Zeroed arena memory, NULL (message set) past DP_JINJA_MAX_MEM or when out of memory. */
void *dp_jinja_alloc(J *j, size_t n);
dp_status dp_jinja_mem_status(void); /* the status of the last failed dp_jinja_alloc */
#define NEW(j, p, n) do { if (!((p) = dp_jinja_alloc((j), (n) * sizeof *(p)))) return dp_jinja_mem_status(); } while (0)
/* A copy of s[0..n) in the arena as a string value (limited to DP_JINJA_MAX_OUT bytes). */
dp_status dp_jinja_str(J *j, int line, const char *s, size_t n, jv *out);
/* Validate, normalise, lex and parse src[0..len) into *root (allocated in j's arena). */
dp_status dp_jinja_parse(J *j, const char *src, size_t len, jnode **root);

static inline jv mk(int t) { jv v; memset(&v, 0, sizeof v); v.t = t; return v; }
static inline jv mk_undef(const char *why) { jv v = mk(V_UNDEF); v.why = why; return v; }
static inline jv mk_none(void) { return mk(V_NONE); }
static inline jv mk_bool(int b) { jv v = mk(V_BOOL); v.u.b = !!b; return v; }
static inline jv mk_int(int64_t i) { jv v = mk(V_INT); v.u.i = i; return v; }
static inline jv mk_float(double f) { jv v = mk(V_FLOAT); v.u.f = f; return v; }
static inline jv mk_str(const char *s, size_t n) { jv v = mk(V_STR); v.u.s.s = s, v.u.s.n = n; return v; }
static inline int str_eq(jstr a, const char *b, size_t bn) { return a.n == bn && (!bn || !memcmp(a.s, b, bn)); }
static inline int is_digit(char c) { return c >= '0' && c <= '9'; }
#endif
