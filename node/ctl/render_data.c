/*
 * render_data.c - household show and conflicts for people (text), from the
 * typed replies of svc_data.c (render.h). Their --json is render_json.
 *
 * Names and ID numbers are written only to OUT, which the caller prints.
 */
#include "record.h"
#include "render.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void
time_of(const Ctl__Time *t, char out[40])
{
	if (t)
		render_time(t->unix_ms, out);
	else
		snprintf(out, 40, "-");
}

static void
render_steps(struct sbuf *out, const Ctl__HouseholdProposal *p)
{
	for (size_t i = 0; i < p->n_steps; i++) {
		const Ctl__ProposalStep *h = p->steps[i];
		char date[40];
		time_of(h->at, date);
		const char *label = h->step_label ? h->step_label : "";
		sbuf_printf(out, "    %s  %s %s %s: %s%s%s", date, h->level, h->area, h->name,
		            label, label[0] ? " " : "", h->step);
		if (h->days)
			sbuf_printf(out, " (%u days)", h->days);
		if (h->refused)
			sbuf_printf(out, " REFUSED: %s", h->reason);
		else if (h->reason[0])
			sbuf_printf(out, ": %s", h->reason);
		sbuf_printf(out, "\n");
		if (h->objector && strcmp(h->objector, "readable") == 0)
			sbuf_printf(out, "      lodged by %s, contact %s\n", h->objector_name,
			            h->objector_contact[0] ? h->objector_contact : "-");
		else if (h->objector && strcmp(h->objector, "sealed") == 0)
			sbuf_printf(out, "      lodged by (sealed: this node is not one of its "
			                 "readers)\n");
		else if (h->objector && h->objector[0])
			sbuf_printf(out,
			            "      lodged by (%s: the key it is sealed with has not come "
			            "here yet)\n",
			            h->objector);
	}
}

void
render_household_text(struct sbuf *out, const Ctl__HouseholdShowReply *r)
{
	sbuf_printf(out, "household %s  village %s %s  year %u\n", r->id, r->village,
	            r->village_name, r->year);
	sbuf_printf(out, "official  %s (%u)\n", r->official_status_name, r->official_status);
	const char *note = "";
	if (r->head_proposal_state[0])
		note = strcmp(r->head_proposal_state, "RECORDED") == 0 ? " (its proposal, recorded)"
		       : strcmp(r->head_proposal_state, "REJECTED") == 0
		           ? " (its proposal, rejected)"
		           : " (proposed, not yet recorded)";
	sbuf_printf(out, "head      %s, status %s%s\n", r->head, r->status_name, note);
	sbuf_printf(
	    out, "data      attribute %s, main cause %s, income %" PRId64 ".%02" PRId64 " yuan\n",
	    rec_attribute_name((uint8_t)r->attribute), rec_cause_name((uint8_t)r->main_cause),
	    r->income_fen / 100, r->income_fen % 100);
	if (strcmp(r->personal, "readable") == 0) {
		sbuf_printf(out, "members   %" PRIu64 "\n", r->members);
		for (size_t i = 0; i < r->n_persons; i++) {
			const Ctl__Person *p = r->persons[i];
			const char *rel = rec_relation_name((uint8_t)p->relation);
			sbuf_printf(out, "  %02u%s%s %s %s %s %s %s\n", p->relation,
			            rel[0] ? " " : "", rel, p->name, p->id_number, p->birth_date,
			            p->health ? rec_health_name((uint8_t)p->health) : "-",
			            p->labour ? rec_labour_name((uint8_t)p->labour) : "-");
		}
	} else {
		sbuf_printf(out, "members   %" PRIu64 " (personal part %s)\n", r->members,
		            r->sealed_why);
	}
	if (r->n_head_hashes > 1) {
		sbuf_printf(out, "heads     %zu concurrent (effective first):", r->n_head_hashes);
		for (size_t i = 0; i < r->n_head_hashes; i++)
			sbuf_printf(out, " %s", r->head_hashes[i]);
		sbuf_printf(out, "\n");
	}
	sbuf_printf(out, "versions (newest first):\n");
	for (size_t i = 0; i < r->n_history; i++) {
		const Ctl__HouseholdVersion *v = r->history[i];
		char date[40], pnote[48] = "";
		time_of(v->at, date);
		if (v->proposal)
			snprintf(pnote, sizeof(pnote), " (proposal, %s)", v->proposal_state);
		sbuf_printf(out, "  %s %s by %s seq %" PRIu64 ": year %u, %s%s\n", v->version, date,
		            v->by, v->seq, v->year, rec_status_name((uint8_t)v->status), pnote);
	}
	sbuf_printf(out, "proposals:\n");
	for (size_t i = 0; i < r->n_proposals; i++) {
		const Ctl__HouseholdProposal *p = r->proposals[i];
		char date[40];
		time_of(p->created, date);
		sbuf_printf(out, "  %s %s %s -> %s, proposed %s: %s (%s)%s\n", p->proposal,
		            p->historic ? "migrated" : p->kind, rec_status_name((uint8_t)p->from),
		            rec_status_name((uint8_t)p->to), date, p->state, p->state_label,
		            p->consent ? ", consent given" : "");
		render_steps(out, p);
	}
	if (!r->n_proposals)
		sbuf_printf(out, "  none\n");
}

static const char *
conflict_label(const char *kind)
{
	static const char *const labels[][2] = {
	    {"concurrent_heads", "concurrent heads"},
	    {"duplicate_person", "duplicate person"},
	    {"claimed_by_two_villages", "household claimed by two villages"},
	    {"equivocation", "equivocation"},
	};
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (strcmp(kind, labels[i][0]) == 0)
			return labels[i][1];
	return kind;
}

void
render_conflicts_text(struct sbuf *out, const Ctl__ConflictsReply *r)
{
	if (!r->n_conflicts) {
		sbuf_printf(out, "no open conflicts\n");
		return;
	}
	static const char *const headers[] = {"kind", "households", "detail", "settled by"};
	struct table t;
	table_init(&t, headers, 4);
	for (size_t i = 0; i < r->n_conflicts; i++) {
		const Ctl__Conflict *c = r->conflicts[i];
		char hs[40] = "-";
		if (c->n_households)
			snprintf(hs, sizeof(hs), "%s%s%s", c->households[0],
			         c->n_households > 1 ? " " : "",
			         c->n_households > 1 ? c->households[1] : "");
		const char *cells[] = {conflict_label(c->kind), hs, c->detail, c->settled_by};
		table_add(&t, cells);
	}
	table_render(&t, out);
	table_release(&t);
}
