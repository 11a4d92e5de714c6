# tap.sh — TAP for the shell test suites (tests/instances/run, tests/demo/run), sourced: "ok N - ..." /
# "not ok N - ..." lines with the seconds since the start, then `tap_end`'s plan and "# pass N" / "# fail N"
# (what scripts/run-tests counts). TAP_TAIL (default 8): how many lines of a failure's output are shown.
n=0
fails=0
t0=$SECONDS
ok() { n=$((n + 1)); echo "ok $n - $1 # $((SECONDS - t0)) s"; }
# notok NAME [OUTPUT...]: a failure, with the tail of its output as TAP comments.
notok() {
	n=$((n + 1)); fails=$((fails + 1))
	echo "not ok $n - $1"
	shift
	printf '%s\n' "$@" | tail -"${TAP_TAIL:-8}" | sed 's/^/#   /'
}
# check NAME CMD...: ok when CMD exits 0 (its output is shown when not).
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$name"; else notok "$name" "$out"; fi
}
# wait_for SECS CMD...: CMD until it succeeds or SECS pass.
wait_for() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 5; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	"$@"
}
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
# The plan and the counts; returns non-zero when a case failed.
tap_end() {
	echo "1..$n"
	echo "# pass $((n - fails))"
	echo "# fail $fails"
	[ "$fails" -eq 0 ]
}
