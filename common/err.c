#include "err.h"

#include <string.h>

const char *
err_str(int err)
{
	switch (err) {
	case JZ_OK:
		return "success";
	case JZ_EPARSE:
		return "malformed input";
	case JZ_EFORGED:
		return "signature or hash link does not verify";
	case JZ_ESCOPE:
		return "origin may not speak about this subject";
	case JZ_EGAP:
		return "sequence gap in origin chain";
	case JZ_EEQUIVOC:
		return "equivocation: same origin and sequence, different envelope";
	case JZ_EREVOKED:
		return "key revoked";
	case JZ_ESCHEMA:
		return "store schema not supported";
	case JZ_ETOOBIG:
		return "size limit exceeded";
	case JZ_EMAPFULL:
		return "storage map full";
	case JZ_ENOTFOUND:
		return "not found";
	case JZ_EDUP:
		return "duplicate";
	case JZ_ECORRUPT:
		return "stored data corrupt";
	case JZ_EIO:
		return "input/output failure";
	case JZ_ECONFIG:
		return "configuration error";
	case JZ_EREFUSED:
		return "refused by peer";
	case JZ_ETIMEOUT:
		return "timed out";
	case JZ_ECRYPTO:
		return "cryptographic library failure";
	}
	if (err < 0 && err > -1000)
		return strerror(-err);
	return "unknown error";
}
