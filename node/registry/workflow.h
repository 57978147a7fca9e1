/*
 * workflow.h - 两公示一公告, the procedure that changes who counts as poor
 * (DESIGN §6, domain.md §1).
 *
 * A proposal is a household version that proposes a status other than the
 * official one (record.h: rec_household.proposes). It is named by its
 * version hash and goes through the same state machine whatever it
 * proposes (identification, exit, return, removal):
 *
 *   PROPOSED          民主评议 held; for an exit, the household's consent
 *   VILLAGE_NOTICE    第一次公示, by the village or its township, >= N days
 *   VILLAGE_PASSED    closed no earlier than opened + N days
 *   TOWNSHIP_APPROVED 乡镇审核 (or REJECTED)
 *   TOWNSHIP_NOTICE   第二次公示, by the township or its county, >= N days
 *   TOWNSHIP_PASSED
 *   COUNTY_APPROVED   县扶贫办复审 (or REJECTED)
 *   ANNOUNCEMENT      公告, by the county, >= N days
 *   RECORDED          the status takes effect (录入 / 销号)
 *
 * An objection during any of the three windows makes the proposal
 * CONTESTED until the investigating level (the township for the two
 * notices, or its county where the township has no node; the county for
 * the announcement) upholds it (REJECTED) or dismisses it (back to the
 * window, which still counts from its opening).
 *
 * Every step is a signed workflow event (record.h: rec_workflow). Every rule
 * of the procedure is here, and one entry point, wf_judge, applies them
 * all: the node that signs a step calls it before signing
 * (node/control/svc_flow.c), and every node that applies a step calls it
 * (node/registry/proposal.c), with the same arguments, so a step its signer takes is
 * taken everywhere. wf_check, the pure part (legal from the current state,
 * the signer's level and area may take it, the window's time has passed by
 * the signed clocks), is tested directly on the whole table of states x
 * steps x signer levels (tests/unit/test_workflow.c); wf_judge adds the
 * rules that read the store (see "The rules that read the store"). Storage
 * of proposals and their history is at the end of this header.
 */
#ifndef JZFP_WORKFLOW_H
#define JZFP_WORKFLOW_H

#include "area.h"
#include "bytes.h"
#include "err.h"
#include "record.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wf_state {
	WF_NONE = 0,
	WF_PROPOSED,
	WF_VILLAGE_NOTICE,
	WF_VILLAGE_PASSED,
	WF_TOWNSHIP_APPROVED,
	WF_TOWNSHIP_NOTICE,
	WF_TOWNSHIP_PASSED,
	WF_COUNTY_APPROVED,
	WF_ANNOUNCEMENT,
	WF_RECORDED,
	WF_REJECTED,
	WF_CONTESTED,
	WF_NSTATES
};

/* The steps; the values travel in WorkflowEvent.step. */
enum wf_step {
	WF_CONSENT = 1,          /* 签字认可: the household consents to its exit */
	WF_VILLAGE_NOTICE_OPEN,  /* 第一次公示 posted */
	WF_VILLAGE_NOTICE_CLOSE, /* ... closed */
	WF_TOWNSHIP_APPROVE,     /* 乡镇审核 */
	WF_TOWNSHIP_REJECT,
	WF_TOWNSHIP_NOTICE_OPEN, /* 第二次公示 */
	WF_TOWNSHIP_NOTICE_CLOSE,
	WF_COUNTY_APPROVE, /* 县扶贫办复审 */
	WF_COUNTY_REJECT,
	WF_ANNOUNCE,        /* 公告 */
	WF_RECORD,          /* 录入 / 销号: closes the announcement */
	WF_OBJECT,          /* 异议 */
	WF_UPHOLD,          /* the objection is upheld */
	WF_DISMISS,         /* the objection is dismissed */
	WF_RECORD_HISTORIC, /* migration: a county records its own register as announced */
	WF_NSTEPS
};

enum wf_kind {
	WF_KIND_INVALID = 0, /* no procedure leads from its official status to its status */
	WF_KIND_IDENTIFY,    /* 非贫困户 or 剔除 -> 未脱贫 */
	WF_KIND_EXIT, /* 未脱贫 or 返贫 -> 已脱贫 (either kind); 享受 -> 不再享受政策 */
	WF_KIND_RETURN, /* 已脱贫 -> 返贫 */
	WF_KIND_REMOVE, /* a poor or exited household -> 剔除 */
};

#define WF_DAY_MS (24ULL * 3600 * 1000)

struct wf_proposal {
	uint64_t household;
	uint8_t state; /* enum wf_state */
	uint8_t kind;  /* enum wf_kind */
	uint8_t from_status, to_status;
	uint8_t contested_from; /* the window an objection suspended */
	uint16_t objections;    /* open objections */
	bool consent;           /* the household's consent to its exit */
	bool historic;          /* recorded by WF_RECORD_HISTORIC (migration) */
	uint16_t window_days;   /* of the open (or suspended) window */
	uint64_t window_opened; /* hlc of the step that opened it */
	uint64_t created;       /* hlc of the version */
	uint16_t year;          /* of the version */
	uint8_t origin[32];     /* the version's origin */
	uint64_t decided;       /* hlc of the step that recorded or rejected it */
	uint8_t decided_by[32]; /* that step's origin */
	uint32_t n_hist;        /* steps applied or refused, in wfhist */
};

/* Who signs a step: the origin's key, node level and area (its NodeInfo). */
struct wf_signer {
	const uint8_t *origin;
	enum area_level level;
	uint64_t area;
};

/* The kind of a proposal from official status FROM to status TO. */
enum wf_kind wf_kind_of(uint8_t from, uint8_t to);

/* A new proposal in state PROPOSED. */
void wf_proposal_init(struct wf_proposal *p, uint64_t household, uint8_t from, uint8_t to,
                      uint16_t year, uint64_t created, const uint8_t origin[32]);

/* Open: neither RECORDED nor REJECTED. */
bool wf_is_open(uint8_t state);

/* Is STATE one of the three windows (a notice or the announcement)? */
bool wf_is_window(uint8_t state);

/*
 * May signer S take STEP on proposal P of a household of VILLAGE, by a
 * clock reading HLC, with window length DAYS (for the steps that open one),
 * when the province's policy says POLICY_DAYS? Returns 0, or JZ_EREFUSED
 * with the reason (one line, no personal data) in WHY.
 */
JZ_NODISCARD int wf_check(const struct wf_proposal *p, uint64_t village, enum wf_step step,
                          const struct wf_signer *s, uint64_t hlc, uint16_t days,
                          uint16_t policy_days, char *why, size_t whylen);

/* Does STEP, signed at level SIGNER, come too early for P: from a state P
 * has not reached yet, by steps another level may take and which may still
 * be on their way? Such a step waits; one from a state P has passed, or
 * missing only steps of the signer's own level (its chain is applied in
 * order), is refused. */
bool wf_is_early(const struct wf_proposal *p, enum wf_step step, enum area_level signer);

/* The lowest level that takes STEP, whose node it is (a village's for its
 * notice, a township's for its review and notice, and for deciding an
 * objection to either notice: CONTESTED_FROM, the window it suspended),
 * where a level above may stand in for an area without a node;
 * AREA_LEVEL_NONE for a step of one level only, or none. */
enum area_level wf_step_own_level(enum wf_step step, uint8_t contested_from);

/* Has P reached or passed the state STEP is taken from (or ended)? A step
 * that waited for its predecessors (wf_is_early) and finds the proposal
 * there or beyond, moved by later steps, will never be taken where it
 * stands: it is refused (proposal.h). */
bool wf_is_passed(const struct wf_proposal *p, enum wf_step step);

/* Take STEP (checked by wf_check) on P at HLC, signed by ORIGIN. */
void wf_apply(struct wf_proposal *p, enum wf_step step, uint64_t hlc, uint16_t days,
              const uint8_t origin[32]);

/* ---------------------------------------------------------------- policy */

/* The policies' keys in STORE_META: this prefix, then hlc(8) origin(32). */
#define WF_POLICY_KEY "policy@"

/* Defaults while the province has signed no policy. */
#define WF_DEFAULT_NOTICE_DAYS  7
#define WF_DEFAULT_THRESHOLD_BP 200

/* The policy that was in force at hlc HLC (the latest signed at or before
 * it, by hlc then origin), with the defaults filled in: what a step signed
 * then is judged against. *SIGNED_AT (may be NULL) is its hlc, 0 for the
 * defaults. Returns 0, JZ_ECORRUPT or a storage error. */
int wf_policy_at(struct store_txn *txn, uint64_t hlc, struct rec_policy *out, uint64_t *signed_at);
/* The policy in force at this node now (the latest), defaults filled in. */
int wf_policy_get(struct store_txn *txn, struct rec_policy *out);
/* Keep policy BODY signed by ORIGIN at HLC for the steps of its time.
 * Errors stick. */
void wf_policy_put(struct store_txn *txn, uint64_t hlc, const uint8_t origin[32],
                   struct bytes body);

/* ---------------------------------------------------------------- the rules */

/*
 * The rules that read the store, after wf_check, in this order:
 *
 *  - the event names the proposal's own household. Applying nodes look a
 *    step's proposal up under the household its event names (the tables
 *    are keyed by household first), so a step naming another household
 *    for a proposal hash does not find it there and waits (parked), like
 *    a step naming a version not held yet; this check is what is left
 *    for a caller handing wf_judge a proposal and a step that disagree;
 *  - the policy judging a step is the one in force at its signed time
 *    (wf_policy_at); a window runs for the days its opening step gave, and
 *    its close (or the record, which closes the announcement) is judged
 *    against those days by the two steps' signed clocks;
 *  - a step refused by wf_check that only steps of another level, which may
 *    still be on their way, separate from its state waits (wf_is_early);
 *  - from-status: the status a proposal says it replaces must be the
 *    official status of the version it builds on (its first parent;
 *    非贫困户 for a first version), checked when its first window opens and
 *    when it is recorded, or a household never identified could "exit"
 *    (虚假脱贫); a parent with nothing recorded at or before it counts
 *    as 非贫困户, as would one not held (log order never lets a proposal
 *    come before its parent);
 *  - historic records: a migration (WF_RECORD_HISTORIC) records a
 *    household's first status, never a change of one recorded before it
 *    (by hlc, then origin): that is the procedure's;
 *  - duplicate person (重复识别), signer only: the county approving an
 *    identification (WF_COUNTY_APPROVE of a WF_KIND_IDENTIFY proposal)
 *    refuses it when a member (by pid_tag) is already in another household
 *    that is officially poor, or whose identification passed the county
 *    review (COUNTY_APPROVED, ANNOUNCEMENT) or is approved earlier in the
 *    same request. This rule is evaluated where the step is signed, and
 *    only there: it reads the person index and other households' states as
 *    they are at signing, which nodes below the county do not hold (a
 *    village holds its own households only) and which change later (the
 *    other household's proposal may be rejected or recorded), so nodes
 *    that apply the step would judge it differently from one another and
 *    the procedure would no longer converge. Applying nodes take the
 *    county's review for it, as the procedure does (县扶贫办复审).
 *
 * When a window may close, by the receiver's clock: wf_check refuses a
 * close dated before the window's end, so a close that is taken is dated
 * at or after it; every node holds an envelope dated more than [trust]
 * max_skew ahead of its own clock until its clock reaches it (node/replication/apply.c,
 * held_until), so a close takes effect at a node no earlier than the end
 * less max_skew by that node's clock. A close dated before the end is
 * refused at once, not held.
 */

enum wf_outcome {
	WF_TAKEN = 1,
	WF_REFUSED, /* why says why */
	WF_WAITING, /* its predecessors may still come: judged again then */
};

/* One step to judge: what its event says for one proposal, and who signs. */
struct wf_step_in {
	uint8_t step;       /* enum wf_step */
	uint16_t days;      /* the window an opening step gives */
	uint64_t household; /* as the event names it */
	uint64_t hlc;       /* the step's signed clock (at signing: the clock now) */
	struct wf_signer signer;
};

/* What only the signer of a step knows (see the duplicate-person rule):
 * the households whose identification the same request approves before
 * this one. */
struct wf_signing {
	const uint64_t *approved;
	size_t n_approved;
};

/*
 * Judge step S on proposal P (version HASH) where P stands: every rule
 * above. HW is the caller's household scratch (household.h). SIGNING is NULL at a node applying a
 * held step, and given by the node about to sign S, which refuses anything not WF_TAKEN (a step
 * that would wait is refused at its signer with why). Reads the store, writes nothing; a storage
 * error sticks to TXN and refuses the step ("storage error"). WHY (LEN bytes) is one line, no
 * personal data.
 */
struct hh_work;
enum wf_outcome wf_judge(struct hh_work *hw, struct store_txn *txn, const uint8_t hash[32],
                         const struct wf_proposal *p, const struct wf_step_in *s,
                         const struct wf_signing *signing, char *why, size_t len);

/* The operator commands of jzfpctl that act on proposals. */
enum wf_command {
	WF_CMD_CONSENT,
	WF_CMD_OPEN,    /* notice open */
	WF_CMD_CLOSE,   /* notice close */
	WF_CMD_APPROVE, /* review approve */
	WF_CMD_REJECT,  /* review reject */
	WF_CMD_OBJECT,
	WF_CMD_UPHOLD,  /* objection uphold */
	WF_CMD_DISMISS, /* objection dismiss */
};

/* The step COMMAND takes on a proposal in STATE (0 when it takes none):
 * the state says which window a notice command means. */
enum wf_step wf_step_for(enum wf_command command, uint8_t state);

const char *wf_state_name(uint8_t state);  /* "VILLAGE_NOTICE" */
const char *wf_state_label(uint8_t state); /* "第一次公示" */
const char *wf_step_name(uint8_t step);    /* "village_notice_open" */
const char *wf_step_label(uint8_t step);   /* "第一次公示开始" */
const char *wf_kind_name(uint8_t kind);    /* "exit" */
/* Parse a state name (case-insensitive). Returns 0 or JZ_EPARSE. */
int wf_state_parse(const char *s, uint8_t *out);
/* Every state's name, ", " between them, for a message (cut to LEN). */
void wf_state_names(char *out, size_t len);

/* ---------------------------------------------------------------- storage */

/*
 * Proposals are kept in `proposal` under household(8) hash(32), keyed by
 * household first so that a batch's inserts cluster (a household's
 * proposals are one range: hh_each(txn, STORE_PROPOSAL, id, ...)), and
 * their histories in `wfhist` under household(8) hash(32) n(4). The
 * household is the proposal's own (wf_proposal.household, the version's
 * rec_household.id).
 */
#define WF_PROPOSAL_KEY 40

/* The `proposal` key of proposal HASH of household HOUSEHOLD. */
void wf_proposal_key(uint8_t k[WF_PROPOSAL_KEY], uint64_t household, const uint8_t hash[32]);
/* Proposal HASH of household HOUSEHOLD. Returns 0, JZ_ENOTFOUND or
 * JZ_ECORRUPT (also for a value naming another household). */
int wf_proposal_get(struct store_txn *txn, uint64_t household, const uint8_t hash[32],
                    struct wf_proposal *out);
/* Write proposal HASH under its household (P->household). Errors stick. */
void wf_proposal_put(struct store_txn *txn, const uint8_t hash[32], const struct wf_proposal *p);
/* Decode a `proposal` value. Returns 0 or JZ_ECORRUPT. */
int wf_proposal_decode(struct wf_proposal *out, const uint8_t *p, size_t n);
/* Decode a `proposal` entry, key K (KN bytes) and value V (VN bytes), as a
 * scan of the table reads it: *HASH points into K. Returns 0, or
 * JZ_ECORRUPT for a key of the wrong length, a bad value, or a value whose
 * household is not its key's. */
int wf_proposal_entry(struct wf_proposal *out, const uint8_t **hash, const uint8_t *k, size_t kn,
                      const uint8_t *v, size_t vn);

/* One step taken on a proposal, or refused: its history for `household show`. */
struct wf_hist {
	uint8_t step;
	bool refused;
	uint8_t level; /* the signer's */
	uint64_t area; /* the signer's */
	uint64_t hlc;  /* the step's */
	uint16_t days;
	uint8_t origin[32];
	uint64_t seq;     /* the event's envelope: (origin, seq) */
	char reason[200]; /* the step's reason, or why it was refused */
};

/* Append H to proposal HASH's history, under its household P->household
 * (P->n_hist is advanced; the caller puts P). Errors stick. */
void wf_hist_add(struct store_txn *txn, const uint8_t hash[32], struct wf_proposal *p,
                 const struct wf_hist *h);
/* Entry I of the history of proposal HASH of household HOUSEHOLD.
 * Returns 0, JZ_ENOTFOUND, JZ_ECORRUPT. */
int wf_hist_get(struct store_txn *txn, uint64_t household, const uint8_t hash[32], uint32_t i,
                struct wf_hist *out);
/* The `wfhist` key of entry I of proposal HASH of household HOUSEHOLD. */
void wf_hist_key(uint8_t k[44], uint64_t household, const uint8_t hash[32], uint32_t i);

#endif
