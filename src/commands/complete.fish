
# Dynamic completion (agevault): secret paths, profiles, recipients and scopes come from
# `agevault __complete KIND`, which reads the config (and, for paths, the vault) and
# never prompts; everything else is the generated completion above.
function __agevault_dynamic_kind
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l words
    set -l skip 0
    for w in $tokens[2..-1]
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $w
            case @VALUE_OPTIONS@
                set skip 1
                continue
            case '-*'
                continue
        end
        set -a words $w
    end
    switch "$tokens[-1]"
        case -p --profile
            echo profiles
            return 0
        case --to
            echo scopes
            return 0
        case --only
            echo paths
            return 0
    end
    string match -q -- '-*' "$cur"; and return 1
    set -l n (count $words)
    switch "$words[1]"
        case get rm set ls log
            if test $n -eq 1
                echo paths
                return 0
            end
        case rotate
            echo paths
            return 0
        case recipients
            if test "$words[2]" = remove -a $n -eq 2
                echo recipients
                return 0
            end
        case scopes
            switch "$words[2]:$n"
                case grant:2 revoke:2 remove:2
                    echo scopes
                    return 0
                case grant:3 revoke:3
                    echo recipients
                    return 0
                case move:2
                    echo paths
                    return 0
            end
    end
    return 1
end

function __agevault_dynamic_list
    set -l tokens (commandline -opc)
    command $tokens[1] __complete $argv[1] 2>/dev/null
end

function __agevault_dynamic_candidates
    set -l kind (__agevault_dynamic_kind)
    or return
    __agevault_dynamic_list $kind
end

complete -c agevault -n __agevault_dynamic_kind -f -a '(__agevault_dynamic_candidates)'
# An option's value is completed from the option's own rules: these add the live lists.
complete -c agevault -s p -l profile -r -f -a '(__agevault_dynamic_list profiles)'
complete -c agevault -l to -r -f -a '(__agevault_dynamic_list scopes)'
complete -c agevault -l only -r -f -a '(__agevault_dynamic_list paths)'
