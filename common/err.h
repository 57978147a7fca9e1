/*
 * err.h - the one error space of jzfp.
 *
 * Functions that can fail return int: 0 on success, a negative value on
 * failure. System failures are -errno; our own codes start at -1000 (Knot's
 * scheme), so the two never collide. Foreign codes (MDB_*, libsodium's -1,
 * zmq_errno()) are translated once, in the module that calls the library.
 */
#ifndef JZFP_ERR_H
#define JZFP_ERR_H

#define JZ_NODISCARD __attribute__((warn_unused_result))

enum {
	JZ_OK = 0,
	JZ_EPARSE = -1000,    /* malformed input: frame, record, CSV field, config value */
	JZ_EFORGED = -1001,   /* signature or hash link does not verify */
	JZ_ESCOPE = -1002,    /* origin may not speak about this subject */
	JZ_EGAP = -1003,      /* sequence gap in an origin chain */
	JZ_EEQUIVOC = -1004,  /* same (origin, seq), different envelope */
	JZ_EREVOKED = -1005,  /* key revoked */
	JZ_ESCHEMA = -1006,   /* store written by an incompatible version */
	JZ_ETOOBIG = -1007,   /* size limit exceeded */
	JZ_EMAPFULL = -1008,  /* LMDB map full; caller grows the map and retries */
	JZ_ENOTFOUND = -1009, /* no such record */
	JZ_EDUP = -1010,      /* already held; harmless */
	JZ_ECORRUPT = -1011,  /* stored data does not decode */
	JZ_EIO = -1012,       /* storage or transport failure without errno */
	JZ_ECONFIG = -1013,   /* configuration error */
	JZ_EREFUSED = -1014,  /* peer refused us */
	JZ_ETIMEOUT = -1015,  /* no answer in time */
	JZ_ECRYPTO = -1016,   /* libsodium failure (not a forgery) */
};

/* Describe any jzfp error code, -errno included. Never returns NULL. */
const char *err_str(int err);

#endif
