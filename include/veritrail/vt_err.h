/*
 * vt_err.h: veritrail result codes.
 *
 * Every library function that can fail returns int: 0 (VT_OK) for success,
 * else one of the codes below. Each module owns a range, so a code tells the
 * layer it came from (SQLite result codes, BearSSL ranged errors). Most
 * functions also take an optional `struct vt_diag *` (util.h) that receives a
 * human sentence naming the input and what is wrong with it.
 *
 * A verification says exactly why it failed: malformed input, an unknown key,
 * a bad signature, a proof mismatch and an unmet policy are distinct codes.
 */
#ifndef VT_ERR_H
#define VT_ERR_H

#define VT_OK 0

/* util: 1..99 */
#define VT_ENOMEM    1 /* out of memory */
#define VT_EIO       2 /* read, write or sync failed */
#define VT_EINVAL    3 /* invalid argument (a caller's mistake) */
#define VT_ETOOBIG   4 /* input exceeds a size or count limit */
#define VT_ENOENT    5 /* no such file or object */
#define VT_EEXIST    6 /* already exists */
#define VT_EINTERNAL 7 /* a library we call failed unexpectedly */
#define VT_EUSAGE    8 /* command-line usage error */

/* crypto: 100..199 */
#define VT_EKEYTYPE  100 /* unsupported key type or curve */
#define VT_EKEYPARSE 101 /* malformed key file */
#define VT_EKEYENC   102 /* key is encrypted and no passphrase was given, or it is wrong */
#define VT_EBADSIG   103 /* signature does not verify */
#define VT_ENOTPRIV  104 /* a private key is needed, a public key was given */

/* encoding: 200..299 */
#define VT_EMALFORMED  200 /* input does not follow the format */
#define VT_ENONCANON   201 /* well-formed but not in the one accepted encoding */
#define VT_EUNKNOWNKEY 202 /* signed by no key we were given */
#define VT_ETHRESHOLD  203 /* fewer valid signatures than the threshold */
#define VT_EMISMATCH   204 /* two artefacts that must agree do not (an entry and its envelope) */

/* merkle: 300..399 */
#define VT_EPROOF 300 /* proof does not match the claimed root(s) */
#define VT_ERANGE 301 /* index or size out of range */

/* store: 400..499 */
#define VT_ESTORE   400 /* the database reported an error */
#define VT_EBUSY    401 /* the store is locked by another writer */
#define VT_ECORRUPT 402 /* stored data contradicts itself */

/* log: 500..599 */
#define VT_ELOGSTATE 500 /* the log is not initialised, or its state is unusable */
#define VT_EAUDIT    501 /* an audit found a discrepancy */

/* policy: 600..699 */
#define VT_EPOLICY  600 /* a policy or root rule is not satisfied */
#define VT_EEXPIRED 601 /* a document has expired */
#define VT_EDENIED  602 /* the signer is not allowed to do this */

/*
 * vt_strerror(err): a short lower-case description of a VT_E* code; never
 * NULL, "unknown error" for a code this version does not know.
 */
const char *vt_strerror(int err);

#endif
