/* composite.h — CloudWatch composite alarm rules (PutCompositeAlarm's AlarmRule): parse the
 * rule text once, list the alarms it names, evaluate it against their current states.
 *
 * The grammar, precedence, limits and error shapes are described at the top of composite.c.
 * A parsed rule is immutable: several threads may evaluate one rule at once. */
#ifndef OWL_ANALYTICS_COMPOSITE_H
#define OWL_ANALYTICS_COMPOSITE_H

#include <stddef.h>

#include "common/err.h"

#define OWL_CRULE_TEXT_MAX 10240 /* characters of rule text */
#define OWL_CRULE_REFS_MAX 100   /* alarm references, repeats counted */
#define OWL_CRULE_DEPTH_MAX 32   /* parentheses and NOTs open at once */
#define OWL_CRULE_NAME_MAX 255   /* characters of one alarm name */

/* What state_of answers for a child alarm. Anything else (OWL_CRULE_UNKNOWN included)
 * is read as OWL_CRULE_INSUFFICIENT_DATA. */
enum owl_crule_state {
    OWL_CRULE_UNKNOWN = -1,
    OWL_CRULE_OK = 0,
    OWL_CRULE_ALARM = 1,
    OWL_CRULE_INSUFFICIENT_DATA = 2,
};

typedef struct owl_crule owl_crule;

/* owl_crule_parse — parses a composite alarm rule. On OWL_OK *out owns a new rule (free
 * it with owl_crule_free). On failure *out is NULL and err (if non-NULL) holds the message:
 * OWL_EINVAL "at N: ..." for a malformed rule or one over a limit, N being the 1-based
 * character position of the offending token (one past the end for a rule cut short);
 * OWL_EINVAL without a position when text or out is NULL; OWL_ENOMEM. */
int owl_crule_parse(const char *text, owl_crule **out, owl_error *err);

/* owl_crule_free — releases a rule; accepts NULL. */
void owl_crule_free(owl_crule *r);

/* owl_crule_refs — the distinct alarm names the rule references, in order of first
 * appearance, ARNs reduced to the NAME after ":alarm:". Sets *names (if names is non-NULL)
 * to an array owned by the rule, valid until owl_crule_free; returns its length. */
size_t owl_crule_refs(const owl_crule *r, const char ***names);

/* owl_crule_refers — 1 if the rule references the alarm called name (by name or ARN), else 0. */
int owl_crule_refers(const owl_crule *r, const char *name);

/* owl_crule_eval — 1 if the rule holds, 0 if not (also for a NULL rule). state_of is asked
 * the state of a referenced alarm by its name (never its ARN) and answers an enum
 * owl_crule_state; an unknown alarm (-1) or a NULL state_of counts as INSUFFICIENT_DATA.
 * AND and OR stop at the first operand that decides them, so state_of may not be asked
 * about every reference. Cannot fail. */
int owl_crule_eval(const owl_crule *r, int (*state_of)(void *ud, const char *name), void *ud);

#endif
