# The async front end end to end: the tokio example server offloads
# sessions to a ThreadPool with spawn(..).await and sheds load with 503
# while the pool reports overload; wrk drives it on 127.0.0.1 for about
# ten seconds (installed with apt-get if missing). See scripts/server_load.sh.
stage_server() {
    run timeout 900 bash scripts/server_load.sh --short
}
EXTRA_STAGES+=(server)
