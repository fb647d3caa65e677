#!/usr/bin/env bash
# 10-keys.sh: `veritrail key generate` and `veritrail key id` against the
# openssl command: file modes, key ids (SHA-256 of the SPKI DER), keys made by
# openssl, and the one-line errors for bad and unsupported key files.
. "$(dirname "$0")/lib.sh"

have_openssl=0
command -v openssl >/dev/null 2>&1 && have_openssl=1

# openssl_id FILE.pub: the key id as openssl computes it.
openssl_id() { openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }

for type in ed25519 ecdsa-p256; do
	name=$T/$type
	expect_rc 0 "$type: key generate" "$VT" key generate --type "$type" --out "$name"
	id=$(cat "$T/out")
	if [[ $id =~ ^[0-9a-f]{64}$ ]] && [ "$(wc -l <"$T/out")" -eq 1 ]; then
		ok "$type: prints one key id"
	else
		notok "$type: prints one key id (got '$id')"
	fi
	check "$type: .key is mode 0600" test "$(stat -c %a "$name.key")" = 600
	check "$type: .pub is mode 0644" test "$(stat -c %a "$name.pub")" = 644
	check "$type: .key is PKCS#8 PEM" grep -qx -- '-----BEGIN PRIVATE KEY-----' "$name.key"
	check "$type: .pub is SPKI PEM" grep -qx -- '-----BEGIN PUBLIC KEY-----' "$name.pub"

	expect_rc 0 "$type: key id of .pub" "$VT" key id "$name.pub"
	check "$type: .pub id equals the printed id" test "$(cat "$T/out")" = "$id"
	expect_rc 0 "$type: key id of .key" "$VT" key id "$name.key"
	check "$type: .key id equals the printed id" test "$(cat "$T/out")" = "$id"

	if [ $have_openssl -eq 1 ]; then
		check "$type: id is sha256 of the SPKI DER (openssl)" test "$(openssl_id "$name.pub")" = "$id"
		openssl pkey -in "$name.key" -pubout -out "$T/derived.pub" 2>/dev/null
		check "$type: openssl reads the .key and derives the .pub" cmp -s "$T/derived.pub" "$name.pub"
	else
		skip "$type: openssl cross-checks (no openssl command)"
	fi

	expect_rc 2 "$type: no overwrite without --force" "$VT" key generate --type "$type" --out "$name"
	expect_err "^veritrail: '$name\.key' already exists" "$type: refusal names the file"
	check "$type: refused generate left the key alone" test "$("$VT" key id "$name.pub")" = "$id"
	expect_rc 0 "$type: --force replaces" "$VT" key generate --type "$type" --out "$name" --force
	check "$type: --force made a new key" test "$(cat "$T/out")" != "$id"
done

# Usage errors: one line, exit 2.
expect_rc 2 "unknown key type" "$VT" key generate --type rsa --out "$T/x"
expect_err "unknown key type 'rsa'" "unknown key type: one line"
expect_rc 2 "missing --out" "$VT" key generate --type ed25519
expect_err "--out" "missing --out: one line"
expect_rc 2 "unknown option" "$VT" key generate --bogus
expect_err "unknown argument '--bogus'" "unknown option: one line"
expect_rc 2 "unknown subcommand" "$VT" key frobnicate
expect_err "unknown subcommand 'frobnicate'" "unknown subcommand: one line"
expect_rc 2 "key id without a file" "$VT" key id
expect_rc 2 "key id of a missing file" "$VT" key id "$T/nope.pub"
expect_err "'$T/nope\.pub'" "missing file: one line naming it"
expect_rc 0 "key --help" "$VT" key --help
for sub in generate id; do
	expect_rc 0 "key $sub --help" "$VT" key $sub --help
	check "key $sub --help: the usage, on standard output" grep -q "^usage: veritrail key" "$T/out"
done

# A corrupt PEM: exit 2, one line naming the file.
{ echo '-----BEGIN PUBLIC KEY-----'; echo 'MCowBQYDK2Vw!!!!'; echo '-----END PUBLIC KEY-----'; } >"$T/corrupt.pub"
expect_rc 2 "corrupt PEM refused" "$VT" key id "$T/corrupt.pub"
expect_err "^veritrail: '$T/corrupt\.pub': " "corrupt PEM: one line naming the file"
cat "$T/ed25519.pub" "$T/ecdsa-p256.pub" >"$T/two.pub"
expect_rc 2 "two keys in one file refused" "$VT" key id "$T/two.pub"
expect_err "^veritrail: '$T/two\.pub': .*after the PEM block" "two keys: one line naming the file"

if [ $have_openssl -eq 0 ]; then
	skip "openssl genpkey keys (no openssl command)"
	finish
	exit
fi

# Keys made by openssl load, with the id openssl computes.
openssl genpkey -algorithm ed25519 -out "$T/o-ed.key" 2>/dev/null
openssl pkey -in "$T/o-ed.key" -pubout -out "$T/o-ed.pub"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/o-ec.key" 2>/dev/null
openssl pkey -in "$T/o-ec.key" -pubout -out "$T/o-ec.pub"
for k in o-ed o-ec; do
	want=$(openssl_id "$T/$k.pub")
	expect_rc 0 "openssl $k.key loads" "$VT" key id "$T/$k.key"
	check "openssl $k.key id matches openssl" test "$(cat "$T/out")" = "$want"
	expect_rc 0 "openssl $k.pub loads" "$VT" key id "$T/$k.pub"
	check "openssl $k.pub id matches openssl" test "$(cat "$T/out")" = "$want"
done

# Unsupported algorithms and curves: exit 2, one line naming the file and the type.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$T/rsa.key" 2>/dev/null
openssl pkey -in "$T/rsa.key" -pubout -out "$T/rsa.pub"
expect_rc 2 "RSA private key refused" "$VT" key id "$T/rsa.key"
expect_err "^veritrail: '$T/rsa\.key': unsupported key type 'RSA'$" "RSA private: one line"
expect_rc 2 "RSA public key refused" "$VT" key id "$T/rsa.pub"
expect_err "^veritrail: '$T/rsa\.pub': unsupported key type 'RSA'$" "RSA public: one line"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$T/p384.key" 2>/dev/null
expect_rc 2 "P-384 refused" "$VT" key id "$T/p384.key"
expect_err "unsupported curve 'secp384r1'" "P-384: one line"

# Encrypted PKCS#8: needs VERITRAIL_KEY_PASSPHRASE, and the right one.
openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:s3cret -in "$T/o-ed.key" -out "$T/enc.key"
expect_rc 2 "encrypted key without passphrase" env -u VERITRAIL_KEY_PASSPHRASE "$VT" key id "$T/enc.key"
expect_err "key is encrypted; set VERITRAIL_KEY_PASSPHRASE" "encrypted: one line"
expect_rc 2 "encrypted key, wrong passphrase" env VERITRAIL_KEY_PASSPHRASE=nope "$VT" key id "$T/enc.key"
expect_err "^veritrail: '$T/enc\.key': .*passphrase" "wrong passphrase: one line"
expect_rc 0 "encrypted key, right passphrase" env VERITRAIL_KEY_PASSPHRASE=s3cret "$VT" key id "$T/enc.key"
check "encrypted key has the plain key's id" test "$(cat "$T/out")" = "$(openssl_id "$T/o-ed.pub")"

finish
