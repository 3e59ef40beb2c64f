# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_pyvet_global_optspecs
    string join \n h/help V/version
end

function __fish_pyvet_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_pyvet_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_pyvet_using_subcommand
    set -l cmd (__fish_pyvet_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c pyvet -n "__fish_pyvet_needs_command" -s h -l help -d 'Print help'
complete -c pyvet -n "__fish_pyvet_needs_command" -s V -l version -d 'Print version'
complete -c pyvet -n "__fish_pyvet_needs_command" -f -a "audit" -d 'Audit Python trees against their package manifests (this host by default)'
complete -c pyvet -n "__fish_pyvet_needs_command" -f -a "manifest" -d 'Print what the package databases (and any INPUT) say is installed'
complete -c pyvet -n "__fish_pyvet_needs_command" -f -a "pyc" -d 'Judge .pyc files the way CPython\'s import system would'
complete -c pyvet -n "__fish_pyvet_needs_command" -f -a "subset" -d 'Prove that a minimal layout is a file-wise subset of a fuller one'
complete -c pyvet -n "__fish_pyvet_needs_command" -f -a "size" -d 'Size and file count of every layout, from a status-quo tree'
complete -c pyvet -n "__fish_pyvet_needs_command" -f -a "policy" -d 'Validate a policy file, or print the effective policy'
complete -c pyvet -n "__fish_pyvet_needs_command" -f -a "markers" -d 'Check the layout markers and what the policy\'s layout expects'
complete -c pyvet -n "__fish_pyvet_needs_command" -f -a "layout" -d 'Make a layout in a build root (this command writes to BUILDROOT)'
complete -c pyvet -n "__fish_pyvet_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l root -d 'Root of the tree to audit (never written to, never chrooted into)' -r -F
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l image -d 'Read a container image instead of --root: an OCI image layout (directory or tar) or a `docker save` archive. Nothing is unpacked' -r -F
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l image-ref -d 'With --image: the image to read, by its org.opencontainers.image.ref.name (or repo:tag in a docker archive)' -r
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l platform -d 'With --image: the platform to read, as OS/ARCH[/VARIANT] (default: the host\'s)' -r
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l db -d 'Which installed databases to read under --root' -r -f -a "auto\t'Every database found under the root'
rpm\t''
dpkg\t''
apk\t''
pip\t'pip `*.dist-info/RECORD` files in the Python library directories'
none\t'No installed database; only the INPUTs'"
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l manifest -d 'A further manifest (database, .rpm, .deb, RECORD, ...) whose files count as owned. A PyOxidizer packed resources file (a host path inside --root) is the manifest of its modules: they are audited, beside the trees, as a PATH naming it audits them' -r -F
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l policy -d 'A policy: a built-in name (fedora, fedora-py-opt0, fedora-option1, fedora-option1-full, fedora-option2, fedora-option2-prefix, fedora-minimal, debian, alpine, pycache-prefix, generic) or a TOML file. Default: detected from the root\'s os-release and databases' -r
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l format -d 'Output format' -r -f -a "text\t'A summary, then findings by severity'
json\t'`pyvet-audit/1` JSON'
sarif\t'SARIF 2.1.0, for code-scanning dashboards'
rpm\t'The owned-file results as `rpm -V` (and `dpkg --verify`) print them'"
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l fail-on -d 'Exit 1 when a finding is at or above this severity' -r -f -a "info\t''
warning\t''
error\t''
never\t'Never exit 1 for findings'"
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l show -d 'Text report: list the findings at or above this severity in full, count the others per rule in the summary' -r -f -a "error\t''
warning\t''
info\t''"
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l pycache-prefix -d 'A PYTHONPYCACHEPREFIX tree (inside the root) whose pycs are judged too' -r -F
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l pysource-prefix -d 'The parallel source tree (PYTHONPYSOURCEPREFIX, inside the root) holding the sources of legacy-location pycs at their mirrored paths; overrides the policy\'s pysource-prefix' -r -F
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l check-hash-based-pycs -d 'CPython\'s --check-hash-based-pycs mode' -r -f -a "default\t'Checked-hash pycs are checked, unchecked-hash ones are not (CPython\'s default)'
always\t'Every hash-based pyc is checked against its source'
never\t'No hash-based pyc is checked'"
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l interpreter -d 'A trusted interpreter for --deep, as VERSION=PATH' -r
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l baseline -d 'Accept the findings of a previous `--format json` report: only new ones fail' -r -F
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l explain -d 'Print what a rule means and exit (`all` lists every rule)' -r
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -s v -l verbose -d 'Text report: list every finding, infos too (--show info)'
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l deep -d 'Prove the bytecode that would run is the compilation of its source'
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l no-progress -d 'Never show a progress bar (it shows only when stderr is a terminal)'
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -l also-discovered -d 'With PATHs: audit the discovered trees too, not only the PATHs'
complete -c pyvet -n "__fish_pyvet_using_subcommand audit" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pyvet -n "__fish_pyvet_using_subcommand manifest" -l root -d 'Root of the tree whose installed databases are read' -r -F
complete -c pyvet -n "__fish_pyvet_using_subcommand manifest" -l image -d 'Read a container image instead of --root: an OCI image layout (directory or tar) or a `docker save` archive. Nothing is unpacked' -r -F
complete -c pyvet -n "__fish_pyvet_using_subcommand manifest" -l image-ref -d 'With --image: the image to read, by its org.opencontainers.image.ref.name (or repo:tag in a docker archive)' -r
complete -c pyvet -n "__fish_pyvet_using_subcommand manifest" -l platform -d 'With --image: the platform to read, as OS/ARCH[/VARIANT] (default: the host\'s)' -r
complete -c pyvet -n "__fish_pyvet_using_subcommand manifest" -l db -d 'Which installed databases to read under --root' -r -f -a "auto\t'Every database found under the root'
rpm\t''
dpkg\t''
apk\t''
pip\t'pip `*.dist-info/RECORD` files in the Python library directories'
none\t'No installed database; only the INPUTs'"
complete -c pyvet -n "__fish_pyvet_using_subcommand manifest" -l format -d 'Output format' -r -f -a "text\t''
json\t''"
complete -c pyvet -n "__fish_pyvet_using_subcommand manifest" -l skip-gpg-pubkey -d 'Leave out rpm\'s gpg-pubkey pseudo-packages'
complete -c pyvet -n "__fish_pyvet_using_subcommand manifest" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pyvet -n "__fish_pyvet_using_subcommand pyc" -l source -d 'The source to judge the pyc against (default: where CPython would look)' -r -F
complete -c pyvet -n "__fish_pyvet_using_subcommand pyc" -l format -d 'Output format' -r -f -a "text\t''
json\t''"
complete -c pyvet -n "__fish_pyvet_using_subcommand pyc" -l check-hash-based-pycs -d 'CPython\'s --check-hash-based-pycs mode' -r -f -a "default\t'Checked-hash pycs are checked, unchecked-hash ones are not (CPython\'s default)'
always\t'Every hash-based pyc is checked against its source'
never\t'No hash-based pyc is checked'"
complete -c pyvet -n "__fish_pyvet_using_subcommand pyc" -l interpreter -d 'A trusted interpreter for --deep, as VERSION=PATH (e.g. 3.12=/usr/bin/python3.12)' -r
complete -c pyvet -n "__fish_pyvet_using_subcommand pyc" -l deep -d 'Prove the bytecode is the compilation of its source with a trusted interpreter'
complete -c pyvet -n "__fish_pyvet_using_subcommand pyc" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pyvet -n "__fish_pyvet_using_subcommand subset" -l minimal -d 'The minimal side: anything `pyvet manifest` reads, a pyvet-manifest/1 JSON, or pkg:NAME for a package installed under --root' -r
complete -c pyvet -n "__fish_pyvet_using_subcommand subset" -l full -d 'The full side, as for --minimal' -r
complete -c pyvet -n "__fish_pyvet_using_subcommand subset" -l compare -d 'How much of each file must be equal' -r -f -a "path\t'The path exists on the full side'
type\t'... with the same file type'
digest\t'... and the same content'
metadata\t'... and the same mode, owner, group and link target'"
complete -c pyvet -n "__fish_pyvet_using_subcommand subset" -l format -d 'Output format' -r -f -a "text\t''
json\t'`pyvet-subset/1` JSON'
sarif\t'SARIF 2.1.0'
junit\t'JUnit XML: each violation a failed test case'"
complete -c pyvet -n "__fish_pyvet_using_subcommand subset" -l root -d 'Root whose installed databases pkg:NAME inputs come from' -r -F
complete -c pyvet -n "__fish_pyvet_using_subcommand subset" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pyvet -n "__fish_pyvet_using_subcommand size" -l format -d 'Output format' -r -f -a "text\t''
json\t'`pyvet-size/1` JSON'
svg\t'A bar chart'"
complete -c pyvet -n "__fish_pyvet_using_subcommand size" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pyvet -n "__fish_pyvet_using_subcommand policy; and not __fish_seen_subcommand_from check show help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pyvet -n "__fish_pyvet_using_subcommand policy; and not __fish_seen_subcommand_from check show help" -f -a "check" -d 'Load FILE strictly and report every problem with its line (exit 0 valid, 2 not)'
complete -c pyvet -n "__fish_pyvet_using_subcommand policy; and not __fish_seen_subcommand_from check show help" -f -a "show" -d 'Print the effective policy as TOML (`all` lists the built-in names)'
complete -c pyvet -n "__fish_pyvet_using_subcommand policy; and not __fish_seen_subcommand_from check show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pyvet -n "__fish_pyvet_using_subcommand policy; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pyvet -n "__fish_pyvet_using_subcommand policy; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pyvet -n "__fish_pyvet_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "check" -d 'Load FILE strictly and report every problem with its line (exit 0 valid, 2 not)'
complete -c pyvet -n "__fish_pyvet_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the effective policy as TOML (`all` lists the built-in names)'
complete -c pyvet -n "__fish_pyvet_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pyvet -n "__fish_pyvet_using_subcommand markers" -l root -d 'Root of the tree (a build root in CI; never written to)' -r -F
complete -c pyvet -n "__fish_pyvet_using_subcommand markers" -l db -d 'Which installed databases to read under --root' -r -f -a "auto\t'Every database found under the root'
rpm\t''
dpkg\t''
apk\t''
pip\t'pip `*.dist-info/RECORD` files in the Python library directories'
none\t'No installed database; only the INPUTs'"
complete -c pyvet -n "__fish_pyvet_using_subcommand markers" -l policy -d 'A policy: a built-in name or a TOML file (default: detected from the root)' -r
complete -c pyvet -n "__fish_pyvet_using_subcommand markers" -l format -d 'Output format' -r -f -a "text\t''
json\t'`pyvet-audit/1` JSON'
sarif\t'SARIF 2.1.0'"
complete -c pyvet -n "__fish_pyvet_using_subcommand markers" -l fail-on -d 'Exit 1 when a finding is at or above this severity' -r -f -a "info\t''
warning\t''
error\t''
never\t'Never exit 1 for findings'"
complete -c pyvet -n "__fish_pyvet_using_subcommand markers" -l show -d 'Text report: list the findings at or above this severity in full, count the others per rule in the summary' -r -f -a "error\t''
warning\t''
info\t''"
complete -c pyvet -n "__fish_pyvet_using_subcommand markers" -l pysource-prefix -d 'The parallel source tree (PYTHONPYSOURCEPREFIX, inside the root) holding the sources of legacy-location pycs at their mirrored paths; overrides the policy\'s pysource-prefix' -r -F
complete -c pyvet -n "__fish_pyvet_using_subcommand markers" -s v -l verbose -d 'Text report: list every finding, infos too (--show info)'
complete -c pyvet -n "__fish_pyvet_using_subcommand markers" -l also-discovered -d 'With PATHs: check the discovered trees too, not only the PATHs'
complete -c pyvet -n "__fish_pyvet_using_subcommand markers" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pyvet -n "__fish_pyvet_using_subcommand layout; and not __fish_seen_subcommand_from apply help" -s h -l help -d 'Print help'
complete -c pyvet -n "__fish_pyvet_using_subcommand layout; and not __fish_seen_subcommand_from apply help" -f -a "apply" -d 'Turn a status-quo build tree into a layout, then check its markers'
complete -c pyvet -n "__fish_pyvet_using_subcommand layout; and not __fish_seen_subcommand_from apply help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pyvet -n "__fish_pyvet_using_subcommand layout; and __fish_seen_subcommand_from apply" -l layout -d 'The layout to make (with the matching shipped Fedora policy)' -r -f -a "status-quo\t'Sources and `__pycache__` pycs at opt 0, 1 and 2 (changes nothing)'
py-opt0\t'Sources and opt-0 `__pycache__` pycs'
option1\t'Sources and a `__pycache__/__dont_write_bytecode__` marker beside each: no pyc'
option1-full\t'Option 1 with its pycs: sources, markers and the pycs at opt 0, 1 and 2'
option2\t'Legacy-location opt-0 pycs, sources compressed in `__pysources__`'
option2-prefix\t'Legacy-location opt-0 pycs, sources at their mirrored paths under the policy\'s pysource prefix (`/usr/share/python3-sources`)'
minimal\t'Legacy-location opt-0 pycs only'"
complete -c pyvet -n "__fish_pyvet_using_subcommand layout; and __fish_seen_subcommand_from apply" -l policy -d 'A policy naming the layout: a built-in name or a TOML file' -r
complete -c pyvet -n "__fish_pyvet_using_subcommand layout; and __fish_seen_subcommand_from apply" -l split -d 'Write rpm `%files -f` and debhelper `.install` lists of the subpackages into DIR' -r -F
complete -c pyvet -n "__fish_pyvet_using_subcommand layout; and __fish_seen_subcommand_from apply" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pyvet -n "__fish_pyvet_using_subcommand layout; and __fish_seen_subcommand_from help" -f -a "apply" -d 'Turn a status-quo build tree into a layout, then check its markers'
complete -c pyvet -n "__fish_pyvet_using_subcommand layout; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pyvet -n "__fish_pyvet_using_subcommand help; and not __fish_seen_subcommand_from audit manifest pyc subset size policy markers layout help" -f -a "audit" -d 'Audit Python trees against their package manifests (this host by default)'
complete -c pyvet -n "__fish_pyvet_using_subcommand help; and not __fish_seen_subcommand_from audit manifest pyc subset size policy markers layout help" -f -a "manifest" -d 'Print what the package databases (and any INPUT) say is installed'
complete -c pyvet -n "__fish_pyvet_using_subcommand help; and not __fish_seen_subcommand_from audit manifest pyc subset size policy markers layout help" -f -a "pyc" -d 'Judge .pyc files the way CPython\'s import system would'
complete -c pyvet -n "__fish_pyvet_using_subcommand help; and not __fish_seen_subcommand_from audit manifest pyc subset size policy markers layout help" -f -a "subset" -d 'Prove that a minimal layout is a file-wise subset of a fuller one'
complete -c pyvet -n "__fish_pyvet_using_subcommand help; and not __fish_seen_subcommand_from audit manifest pyc subset size policy markers layout help" -f -a "size" -d 'Size and file count of every layout, from a status-quo tree'
complete -c pyvet -n "__fish_pyvet_using_subcommand help; and not __fish_seen_subcommand_from audit manifest pyc subset size policy markers layout help" -f -a "policy" -d 'Validate a policy file, or print the effective policy'
complete -c pyvet -n "__fish_pyvet_using_subcommand help; and not __fish_seen_subcommand_from audit manifest pyc subset size policy markers layout help" -f -a "markers" -d 'Check the layout markers and what the policy\'s layout expects'
complete -c pyvet -n "__fish_pyvet_using_subcommand help; and not __fish_seen_subcommand_from audit manifest pyc subset size policy markers layout help" -f -a "layout" -d 'Make a layout in a build root (this command writes to BUILDROOT)'
complete -c pyvet -n "__fish_pyvet_using_subcommand help; and not __fish_seen_subcommand_from audit manifest pyc subset size policy markers layout help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pyvet -n "__fish_pyvet_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "check" -d 'Load FILE strictly and report every problem with its line (exit 0 valid, 2 not)'
complete -c pyvet -n "__fish_pyvet_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "show" -d 'Print the effective policy as TOML (`all` lists the built-in names)'
complete -c pyvet -n "__fish_pyvet_using_subcommand help; and __fish_seen_subcommand_from layout" -f -a "apply" -d 'Turn a status-quo build tree into a layout, then check its markers'
