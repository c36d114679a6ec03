/* test_optable.c — every row of ir/ops.def is complete: each op has a shape rule (ir/shape.c;
 * not needed by the ops rewritten at import),
 * a lowering and a FLOPs rule (or says explicitly that it has no FLOPs), and the columns agree
 * with the flags: an op lowered as elementwise is OPF_ELEMWISE and the other way round (views
 * aside), a fusable token or fused activation is elementwise, every attribute default in a
 * schema is a number. Fails naming each op that breaks one of these. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ir/ir.h"

static int fails;

static void bad(int op, const char *what) {
    fprintf(stderr, "op %s: %s\n", op_info(op)->name, what);
    fails++;
}

/* Every "name:kind=default" of op's schema has a numeric default op_attr_default reads. */
static void check_defaults(int op) {
    const char *s = op_info(op)->attrs;
    while (*s) {
        while (*s == ' ') s++;
        size_t len = strcspn(s, " ");
        const char *colon = memchr(s, ':', len), *eq = memchr(s, '=', len);
        if (!colon) {
            bad(op, "schema entry without a kind");
            return;
        }
        if (eq) {
            char name[64], def[64];
            snprintf(name, sizeof name, "%.*s", (int)(colon - s), s);
            snprintf(def, sizeof def, "%.*s", (int)(s + len - eq - 1), eq + 1);
            char *end;
            strtod(def, &end);
            double v;
            if (*end || !*def || !op_attr_default(op, name, &v))
                bad(op, "a default is not a number");
        }
        s += len;
    }
}

int main(void) {
    for (int op = 0; op < OP_COUNT; op++) {
        const OpInfo *oi = op_info(op);
        if (!op_has_shape_rule(op) && oi->lower != LOWER_IMPORT)
            bad(op, "no shape rule (ir/shape.c)");
        if (oi->lower == LOWER_NONE) bad(op, "no lowering (ops.def lower column)");
        if (oi->flops == FL_MISSING)
            bad(op, "no FLOPs rule (ops.def flops column; FL_NONE for none)");
        const bool elem = oi->flags & OPF_ELEMWISE;
        if (oi->lower == LOWER_ELEMWISE && !elem)
            bad(op, "lowered as elementwise, not OPF_ELEMWISE");
        if (elem && oi->lower != LOWER_ELEMWISE && oi->lower != LOWER_VIEW)
            bad(op, "OPF_ELEMWISE but not lowered as elementwise");
        if ((oi->flags & OPF_FUSE) && oi->lower != LOWER_ELEMWISE)
            bad(op, "OPF_FUSE on an op not lowered as elementwise");
        if (oi->act && !(oi->flags & OPF_FUSE)) bad(op, "a fused activation that is not OPF_FUSE");
        check_defaults(op);
    }
    if (fails) {
        fprintf(stderr, "%d problems in ir/ops.def\n", fails);
        return 1;
    }
    printf("ops.def: %d ops, every one with a shape rule, a lowering and a FLOPs rule\n", OP_COUNT);
    return 0;
}
