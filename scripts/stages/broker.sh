# Sourced by scripts/test.sh: the Redis stream example end to end, small.
#
# scripts/broker.sh --small installs redis-server if it is missing, starts
# it on 127.0.0.1, seeds 4000 sessions, runs 3 consumer processes (one
# SIGTERMed and one SIGKILLed midway, both restarted) and fails unless
# every session ran, nothing is pending and only the killed consumer's
# in-flight sessions ran twice. It stops redis-server and the consumers
# on exit, whatever happens.

stage_broker() {
    run timeout 900 bash scripts/broker.sh --small
}

EXTRA_STAGES+=(broker)
