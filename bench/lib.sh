# bench/lib.sh — what the benchmark scripts share; sourced after they define
# die(). Not run on its own.

USED_PORTS=' '
PORT=0
free_port() { # sets PORT to a loopback TCP port nobody listens on
    local p i
    for ((i = 0; i < 500; i++)); do
        p=$((20000 + RANDOM % 30000))
        [[ $USED_PORTS == *" $p "* ]] && continue
        if [[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]]; then
            USED_PORTS+="$p "
            PORT=$p
            return 0
        fi
    done
    die "no free port found"
}
