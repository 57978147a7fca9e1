/*
 * jzfp_ctlprobe - a misbehaving control client, for test_control.py.
 *
 *   jzfp_ctlprobe SOCKET STEP...
 *
 * Connects a REQ socket to ipc://SOCKET (a node's control.sock) and, for
 * each STEP, sends one request and prints one line: "STEP code=N error=..."
 * for a reply, "STEP no-answer" when none came within 10 s, or
 * "STEP disconnected" when the node closed the connection.
 *
 *   garbage    64 bytes that are no ctl Request
 *   oversize   a frame one byte over CONTROL_MAX_REQUEST
 *   frames     a request of two frames
 *   unknown    a Request with only an unknown field (no request kind)
 *   empty-household  an import STAGE of one empty household record and an
 *              empty personal part, no file lines (it crashed the node once)
 *   big-status a status request of 100,000 bytes (an unknown field pads it):
 *              over the read-only socket's limit, under the other's
 *   status     a well-formed status request (the node still answers)
 *   area-names=CODE=NAME|CODE=NAME...
 *              a policy set of these names as given, unchecked: what the
 *              node itself refuses (jzfpctl would refuse it first)
 */
#include "control.h"
#include "ctl.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static void *ctx;

static void *
open_req(const char *ep)
{
	void *s = zmq_socket(ctx, ZMQ_REQ);
	int linger = 0, tmo = 10000;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
	if (zmq_connect(s, ep) != 0) {
		fprintf(stderr, "cannot connect to %s: %s\n", ep, zmq_strerror(zmq_errno()));
		exit(1);
	}
	return s;
}

static void
answer(const char *step, void *s)
{
	zmq_msg_t m;
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, s, 0) < 0) {
		printf("%s no-answer\n", step);
		zmq_msg_close(&m);
		return;
	}
	Ctl__Reply *rp = ctl__reply__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
	zmq_msg_close(&m);
	if (!rp) {
		printf("%s undecodable-reply\n", step);
		return;
	}
	printf("%s code=%d body=%d error=%s\n", step, (int)rp->code, (int)rp->body_case, rp->error);
	ctl__reply__free_unpacked(rp, NULL);
}

/* Send RQ on S, followed by an unknown field of PAD zero bytes (field 1000,
 * length-delimited: key 8002; PAD below 2^21) when PAD is not 0. */
static void
send_request(void *s, const Ctl__Request *rq, size_t pad)
{
	size_t n = ctl__request__get_packed_size(rq);
	uint8_t *b = calloc(1, n + 8 + pad);
	if (!b)
		exit(1);
	ctl__request__pack(rq, b);
	if (pad) {
		const uint8_t head[] = {0xc2, 0x3e, (uint8_t)(0x80 | (pad & 0x7f)),
		                        (uint8_t)(0x80 | ((pad >> 7) & 0x7f)),
		                        (uint8_t)(pad >> 14)};
		memcpy(b + n, head, sizeof(head));
		n += sizeof(head) + pad;
	}
	zmq_send(s, b, n, 0);
	free(b);
}

/* A status request, PAD bytes longer (send_request). */
static void
send_status(void *s, size_t pad)
{
	Ctl__StatusReq q;
	ctl__status_req__init(&q);
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_STATUS;
	rq.status = &q;
	send_request(s, &rq, pad);
}

int
main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: jzfp_ctlprobe SOCKET STEP...\n");
		return 2;
	}
	char ep[4200];
	snprintf(ep, sizeof(ep), "ipc://%s", argv[1]);
	ctx = zmq_ctx_new();
	for (int i = 2; i < argc; i++) {
		const char *step = argv[i];
		/* A fresh socket per step: a REQ that got no answer is stuck. */
		void *s = open_req(ep);
		if (strcmp(step, "garbage") == 0) {
			uint8_t b[64];
			for (size_t k = 0; k < sizeof(b); k++)
				b[k] = (uint8_t)(0xff - k * 7);
			zmq_send(s, b, sizeof(b), 0);
		} else if (strcmp(step, "oversize") == 0) {
			size_t n = (size_t)CONTROL_MAX_REQUEST + 1;
			uint8_t *b = calloc(1, n);
			if (!b)
				return 1;
			zmq_send(s, b, n, 0);
			free(b);
		} else if (strcmp(step, "frames") == 0) {
			zmq_send(s, "a", 1, ZMQ_SNDMORE);
			zmq_send(s, "b", 1, 0);
		} else if (strcmp(step, "unknown") == 0) {
			/* field 77, varint 1: no oneof case is set */
			const uint8_t b[] = {0xe8, 0x04, 0x01};
			zmq_send(s, b, sizeof(b), 0);
		} else if (strcmp(step, "empty-household") == 0) {
			ProtobufCBinaryData none = {0, NULL};
			Ctl__ImportHouseholdsReq q;
			ctl__import_households_req__init(&q);
			q.step = CTL__IMPORT_STEP__IMPORT_STAGE;
			q.n_households = q.n_personal = 1;
			q.households = q.personal = &none;
			q.pid = (uint32_t)getpid();
			Ctl__Request rq;
			ctl__request__init(&rq);
			rq.req_case = CTL__REQUEST__REQ_IMPORT_HOUSEHOLDS;
			rq.import_households = &q;
			send_request(s, &rq, 0);
		} else if (strcmp(step, "big-status") == 0) {
			send_status(s, 100000);
		} else if (strcmp(step, "status") == 0) {
			send_status(s, 0);
		} else if (strncmp(step, "area-names=", 11) == 0) {
			char *list = strdup(step + 11);
			Ctl__AreaName names[16], *np[16];
			Ctl__PolicySetReq q;
			ctl__policy_set_req__init(&q);
			for (char *save = NULL, *pair = strtok_r(list, "|", &save);
			     pair && q.n_names < 16; pair = strtok_r(NULL, "|", &save)) {
				char *eq = strchr(pair, '=');
				ctl__area_name__init(&names[q.n_names]);
				if (eq)
					*eq = '\0';
				names[q.n_names].area = pair;
				names[q.n_names].name = eq ? eq + 1 : "";
				np[q.n_names] = &names[q.n_names];
				q.n_names++;
			}
			q.names = np;
			Ctl__Request rq;
			ctl__request__init(&rq);
			rq.req_case = CTL__REQUEST__REQ_POLICY_SET;
			rq.policy_set = &q;
			send_request(s, &rq, 0);
			free(list);
		} else {
			fprintf(stderr, "unknown step '%s'\n", step);
			return 2;
		}
		answer(step, s);
		fflush(stdout);
		zmq_close(s);
	}
	zmq_ctx_term(ctx);
	return 0;
}
