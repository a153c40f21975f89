# bash completion for edgecachectl. Installed as
# <datadir>/bash-completion/completions/edgecachectl; a test keeps its lists in step with
# `edgecachectl help`.

_edgecachectl() {
    local cur prev words cword
    _init_completion 2>/dev/null || {
        cur="${COMP_WORDS[COMP_CWORD]}"
        prev="${COMP_WORDS[COMP_CWORD-1]}"
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    }
    local commands="health stats purge warm inspect kv reload backup config origin tail top fleet help"
    local global="--socket --url --token --json --help --version"

    case "$prev" in
        --socket|--file) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --filter) COMPREPLY=($(compgen -W "status>=500 status=404 cache=MISS cache=HIT cache=STALE method=POST path=/ route= origin= host=" -- "$cur")); return ;;
    esac

    # The subcommand: the first word after the program that is not an option (or its value).
    local i cmd="" verb="" sock=()
    for ((i = 1; i < cword; i++)); do
        case "${words[i]}" in
            --socket) sock=(--socket "${words[i+1]}"); ((i++)) ;;
            --file|--filter|--server|--prefix|--route|--namespace|--host|--ttl|--expiration|--metadata|--limit|--concurrency|--count|--seconds|--interval|--once) ((i++)) ;;
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd="${words[i]}"; elif [[ -z $verb ]]; then verb="${words[i]}"; fi ;;
        esac
    done

    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands $global" -- "$cur"))
        return
    fi
    local opts=""
    case "$cmd" in
        stats) opts="--watch"; [[ -z $verb ]] && opts="$opts reset" ;;
        purge) opts="--path --prefix --tag --all --soft --route --namespace --wait" ;;
        fleet) [[ -z $verb ]] && opts="status" ;;
        warm) opts="--file --concurrency --host" ;;
        inspect) opts="--host" ;;
        kv) [[ -z $verb ]] && opts="get put del list import export" || opts="--file --ttl --expiration --metadata --prefix --limit" ;;
        origin)
            if [[ -z $verb ]]; then
                opts="list sick healthy drain auto"
            else
                opts="--server"
                if [[ $verb != list ]]; then
                    local names
                    names=$(edgecachectl "${sock[@]}" origin list --json 2>/dev/null |
                        grep -o '"name":"[^"]*"' | cut -d'"' -f4)
                    opts="$opts $names"
                fi
            fi ;;
        tail) opts="--filter --count --seconds" ;;
        top) opts="--filter --interval --once --limit" ;;
        help) opts="$commands" ;;
    esac
    COMPREPLY=($(compgen -W "$opts $global" -- "$cur"))
}
complete -F _edgecachectl edgecachectl
