//! Every VM's private state belongs to that VM alone: for each place
//! libvirt keeps a domain's state, a disk, chardev, nvram or `-F` path of this domain is
//! granted and the same path of another domain (names `other`, `7-other`, `other-swtpm`,
//! other ids) is refused with exit 3 and a message naming the path, the element and why; a
//! share of a directory holding every domain's state is refused; libvirtd's start sequence
//! still works; and no base rule of one domain matches a file of another, as the real
//! `apparmor_parser` compiles them.

use crate::support::*;
use std::path::Path;

/// A running domain (`<domain id=...>`, as libvirtd passes it) with its own UUID.
struct Vm {
    name: &'static str,
    id: i64,
    uuid: String,
}

impl Vm {
    fn new(name: &'static str, id: i64) -> Self {
        Vm {
            name,
            id,
            uuid: format!("00000000-0000-4000-8000-{id:012}"),
        }
    }

    fn profile(&self) -> String {
        format!("libvirt-{}", self.uuid)
    }

    /// `virDomainDefGetShortName`.
    fn short(&self) -> String {
        let s: String = self.name.chars().take(20).collect();
        format!("{}-{s}", self.id)
    }

    fn xml(&self, devices: &str, os: &str) -> String {
        domain_named(self.name, devices, os)
            .replacen(
                "<domain type='kvm'>",
                &format!("<domain type='kvm' id='{}'>", self.id),
                1,
            )
            .replace(UUID, &self.uuid)
    }

    /// Fills `{name}`, `{short}`, `{uuid}` with this domain's.
    fn fill(&self, template: &str) -> String {
        template
            .replace("{name}", self.name)
            .replace("{short}", &self.short())
            .replace("{uuid}", &self.uuid)
    }
}

/// `-d -c` for `vm` plus `extra`: must succeed; what it would write is compiled.
fn dry_create_as(vm: &Vm, xml: &str, extra: &[&str]) -> Run {
    let profile = vm.profile();
    let mut args = vec!["-d", "-c", "-u", &profile];
    args.extend_from_slice(extra);
    let o = run(&args, Some(xml));
    assert!(o.status.success(), "{}: {}", vm.name, o.stderr);
    compile_dry_run(&o);
    o
}

/// `-c` for `vm` plus `extra` in a fresh policy tree: must fail with exit `code`, one
/// error line, nothing on stdout, nothing written. Returns the error line.
fn refused_as(vm: &Vm, xml: &str, extra: &[&str], code: i32) -> String {
    let policy = Policy::new();
    let dir = policy.dir.to_str().expect("utf-8").to_string();
    let profile = vm.profile();
    let mut args = vec!["-c", "-u", &profile, "--no-load", "--apparmor-dir", &dir];
    args.extend_from_slice(extra);
    let o = run(&args, Some(xml));
    let err = o.stderr;
    assert_eq!(o.status.code(), Some(code), "{}: {err}", vm.name);
    assert!(o.stdout.is_empty());
    let errors: Vec<&str> = err.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    let written = std::fs::read_dir(policy.dir.join("libvirt"))
        .expect("libvirt/")
        .count();
    assert_eq!(written, 0, "nothing written");
    errors[0].to_string()
}

/// `-c` for `vm` in `policy`: must succeed.
fn create_as(policy: &Policy, vm: &Vm, xml: &str) {
    let dir = policy.dir.to_str().expect("utf-8").to_string();
    let profile = vm.profile();
    let args = ["-c", "-u", &profile, "--no-load", "--apparmor-dir", &dir];
    let o = run(&args, Some(xml));
    assert!(o.status.success(), "{}: {}", vm.name, o.stderr);
}

/// One way a path reaches a rule: the XML devices and os parts, and the extra arguments.
struct Use {
    what: &'static str,
    template: &'static str,
    place: fn(&str) -> (String, String, Vec<String>),
}

fn disk_use(p: &str) -> (String, String, Vec<String>) {
    (disk(p, "vda", ""), String::new(), vec![])
}
fn serial_use(p: &str) -> (String, String, Vec<String>) {
    (
        format!("    <serial type='file'><source path='{p}'/><target port='0'/></serial>\n"),
        String::new(),
        vec![],
    )
}
fn channel_use(p: &str) -> (String, String, Vec<String>) {
    (
        format!("    <channel type='unix'><source mode='bind' path='{p}'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>\n"),
        String::new(),
        vec![],
    )
}
fn nvram_use(p: &str) -> (String, String, Vec<String>) {
    (
        String::new(),
        format!("    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>\n    <nvram>{p}</nvram>\n"),
        vec![],
    )
}
fn extra_use(p: &str) -> (String, String, Vec<String>) {
    (String::new(), String::new(), vec!["-F".into(), p.into()])
}

/// Every state location, with the element or argument that names it.
const USES: &[Use] = &[
    Use {
        what: "master key (-F, libvirtd at start)",
        template: "/var/lib/libvirt/qemu/domain-{short}/master-key.aes",
        place: extra_use,
    },
    Use {
        what: "monitor socket as a disk",
        template: "/var/lib/libvirt/qemu/domain-{short}/monitor.sock",
        place: disk_use,
    },
    Use {
        what: "private directory (-F subtree)",
        template: "/var/lib/libvirt/qemu/domain-{short}/{,**}",
        place: extra_use,
    },
    Use {
        what: "channel socket",
        template: "/var/lib/libvirt/qemu/channel/target/domain-{short}/org.qemu.guest_agent.0",
        place: channel_use,
    },
    Use {
        what: "channel directory (-F subtree)",
        template: "/var/lib/libvirt/qemu/channel/target/domain-{short}/{,**}",
        place: extra_use,
    },
    Use {
        what: "file-backed RAM (-F subtree)",
        template: "/var/lib/libvirt/qemu/ram/{short}/{,**}",
        place: extra_use,
    },
    Use {
        what: "hugepages (-F subtree)",
        template: "/dev/hugepages/libvirt/qemu/{short}/{,**}",
        place: extra_use,
    },
    Use {
        what: "nvram",
        template: "/var/lib/libvirt/qemu/nvram/{name}_VARS.fd",
        place: nvram_use,
    },
    Use {
        what: "managed save (-F, restore)",
        template: "/var/lib/libvirt/qemu/save/{name}.save",
        place: extra_use,
    },
    Use {
        what: "swtpm state as a disk",
        template: "/var/lib/libvirt/swtpm/{uuid}/tpm2/tpm2-00.permall",
        place: disk_use,
    },
    Use {
        what: "swtpm socket as a chardev",
        template: "/run/libvirt/qemu/swtpm/{short}-swtpm.sock",
        place: serial_use,
    },
    Use {
        what: "swtpm pid file (-F)",
        template: "/run/libvirt/qemu/swtpm/{short}-swtpm.pid",
        place: extra_use,
    },
    Use {
        what: "D-Bus socket (-F, libvirtd)",
        template: "/run/libvirt/qemu/dbus/{short}-dbus.sock",
        place: extra_use,
    },
    Use {
        what: "QEMU pid file (-F)",
        template: "/run/libvirt/qemu/{name}.pid",
        place: extra_use,
    },
    Use {
        what: "QEMU log as a chardev",
        template: "/var/log/libvirt/qemu/{name}.log",
        place: serial_use,
    },
    Use {
        what: "swtpm log as a chardev",
        template: "/var/log/swtpm/libvirt/qemu/{name}-swtpm.log",
        place: serial_use,
    },
];

/// The domains that try to reach `other`'s state: a name with its id in front, a name with
/// a helper's suffix, and `other` itself under another id.
fn intruders() -> [Vm; 3] {
    [
        Vm::new("7-other", 3),
        Vm::new("other-swtpm", 2),
        Vm::new("other", 8),
    ]
}

#[test]
fn each_state_location_is_granted_to_its_domain_and_refused_to_every_other() {
    let owner = Vm::new("other", 7);
    for u in USES {
        let path = owner.fill(u.template);
        let (devices, os, extra) = (u.place)(&path);
        let args: Vec<&str> = extra.iter().map(String::as_str).collect();
        // Its own domain: granted, and the profile compiles.
        let o = dry_create_as(&owner, &owner.xml(&devices, &os), &args);
        let rules = o.dry_rules();
        let text = path.trim_end_matches("/{,**}");
        assert!(
            rules.iter().any(|r| r.contains(text)),
            "{}: {path} not granted to its own domain: {rules:?}",
            u.what
        );
        // Any other domain: refused, naming the path and the element.
        for vm in intruders() {
            // Names are unique: a name-only entry of `other` is every `other`'s.
            if vm.name == owner.name
                && !u.template.contains("{short}")
                && !u.template.contains("{uuid}")
            {
                continue;
            }
            let error = refused_as(&vm, &vm.xml(&devices, &os), &args, 3);
            assert!(
                error.starts_with(&format!("virt-aa-helper: error: '{text}': ")),
                "{} for {}: {error}",
                u.what,
                vm.name
            );
            assert!(
                error.contains("belongs to another domain's private state"),
                "{} for {}: {error}",
                u.what,
                vm.name
            );
            assert!(error.ends_with(')'), "{error}");
        }
    }
}

/// Without an id (a domain that is not running) only the name can be compared, and only a
/// name shorter than 20 characters is whole in the short name.
#[test]
fn without_an_id_only_a_whole_name_is_compared() {
    let path = "/var/lib/libvirt/qemu/domain-7-other/master-key.aes";
    let other = domain_named("other", "", "");
    dry_create(&other, &["-F", path]);
    let err = create_refused(&domain_named("7-other", "", ""), &["-F", path], 3);
    assert!(
        err.contains("belongs to another domain's private state"),
        "{err}"
    );
    // 21 characters: its short name is also that of every name with the same 20 first.
    let long = "abcdefghijklmnopqrstu";
    let err = create_refused(
        &domain_named(long, "", ""),
        &[
            "-F",
            "/var/lib/libvirt/qemu/domain-1-abcdefghijklmnopqrst/{,**}",
        ],
        3,
    );
    assert!(err.contains("without the domain's id"), "{err}");
}

/// Shared directories that are nobody's domain state: the daemons' records and files, the
/// old `domain-<name>` layout, channel sockets in the pre-1.x layout.
#[test]
fn daemon_records_and_ambiguous_layouts_are_refused() {
    let vm = Vm::new("other", 7);
    for (path, why) in [
        ("/run/libvirt/qemu/other.xml", "belongs to another domain's private state or to libvirt's"),
        ("/var/lib/libvirt/qemu/snapshot/other/s1.xml", "belongs to another domain's private state or to libvirt's"),
        ("/run/libvirt/qemu/driver.pid", "belongs to another domain's private state or to libvirt's"),
        ("/var/lib/libvirt/qemu/domain-other/monitor.sock", "is in /var/lib/libvirt/qemu, which holds every domain's private directory; this domain's entries there: domain-7-other"),
        ("/var/lib/libvirt/qemu/channel/target/other.org.qemu.guest_agent.0", "is in /var/lib/libvirt/qemu/channel/target"),
        // The libvirt daemons' runtime state: restricted as a whole but for the domains'
        // qemu/.
        ("/run/libvirt/network/default.pid", "/run/libvirt is never allowed (restricted location)"),
        ("/var/log/libvirt/libvirtd.log", "is in /var/log/libvirt"),
        ("/var/lib/libvirt/qemu/nvram/other-bios.fd", "is in /var/lib/libvirt/qemu/nvram, which holds every domain's UEFI variables; this domain's entries there: other_VARS.fd"),
    ] {
        let err = refused_as(&vm, &vm.xml(&disk(path, "vda", ""), ""), &[], 3);
        assert!(
            err.contains(&format!("error: '{path}': {why}")) && err.contains("(from disk vda)"),
            "{path}: {err}"
        );
    }
}

#[test]
fn shares_of_directories_holding_every_domains_state_are_refused() {
    for dir in ["/var/lib/libvirt", "/run/libvirt/qemu", "/var", "/var/log"] {
        let share = format!(
            "    <filesystem type='mount'><source dir='{dir}'/><target dir='x'/></filesystem>\n"
        );
        let err = create_refused(&domain(&share, ""), &[], 3);
        assert!(
            err.contains(&format!(
                "error: '{dir}': granting everything below it would include "
            )) && err.contains("(from filesystem x)"),
            "{dir}: {err}"
        );
    }
    // A share of the domain's own directory is fine.
    let vm = Vm::new("other", 7);
    let own = "/var/lib/libvirt/qemu/domain-7-other";
    let share = format!(
        "    <filesystem type='mount'><source dir='{own}'/><target dir='x'/></filesystem>\n"
    );
    let o = dry_create_as(&vm, &vm.xml(&share, ""), &[]);
    assert!(o.dry_rules().contains(&format!("\"{own}/**\" rwl,")));
}

/// What libvirtd 9.0 runs when it starts a domain (observed by tests/libvirtd.rs): `-c`,
/// then `-r -F` of the private directory, the channel directory and the master key. All
/// pass; `-c` already grants the two directories as libvirtd does, so the three calls find
/// their path granted and leave `.files` as it was, byte for byte and with its mtime.
#[test]
fn libvirtds_start_sequence_still_works() {
    let vm = Vm::new("vah-start", 1);
    let policy = Policy::new();
    let xml = vm.xml(&disk("/srv/vm/disk.img", "vda", ""), "");
    create_as(&policy, &vm, &xml);
    let files_path = policy.libvirt(&format!("{}.files", vm.profile()));
    let before = std::fs::read(&files_path).expect(".files");
    let mtime = || {
        std::fs::metadata(&files_path)
            .and_then(|m| m.modified())
            .expect("mtime")
    };
    let written = mtime();
    let dir = policy.dir.to_str().expect("utf-8").to_string();
    for extra in [
        "/var/lib/libvirt/qemu/domain-1-vah-start/{,**}",
        "/var/lib/libvirt/qemu/channel/target/domain-1-vah-start/{,**}",
        "/var/lib/libvirt/qemu/domain-1-vah-start/master-key.aes",
    ] {
        let args = [
            "-r",
            "-u",
            &vm.profile(),
            "--no-load",
            "--apparmor-dir",
            &dir,
            "-F",
            extra,
        ];
        let o = run(&args, Some(&xml));
        assert!(o.status.success(), "{extra}: {}", o.stderr);
    }
    let files = std::fs::read_to_string(policy.libvirt(&format!("{}.files", vm.profile())))
        .expect(".files");
    let rules: Vec<String> = files
        .lines()
        .map(|l| l.split("  #").next().unwrap_or(l).trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_lines(
        &rules,
        &[
            "\"/var/log/libvirt/qemu/vah-start.log\" w,",
            "\"/var/lib/libvirt/qemu/domain-1-vah-start/{,**}\" rwk,",
            "\"/var/lib/libvirt/qemu/channel/target/domain-1-vah-start/{,**}\" rwk,",
            "\"/run/libvirt/qemu/vah-start.pid\" rwk,",
            "\"/var/lib/libvirt/qemu/nvram/vah-start_VARS.fd\" rwk,",
            &nvram_others_denied("vah-start"),
            "\"/srv/vm/disk.img\" rwk,",
            VHOST_NET,
        ],
    );
    assert_eq!(std::fs::read(&files_path).expect(".files"), before);
    assert_eq!(mtime(), written, "covered -F calls do not rewrite .files");
    assert_eq!(policy.compile_all(), 1);
}

/// The files of a domain's private state, by libvirt's naming (`src/state.rs`; not the
/// pre-short-name `domain-<name>/`, which 9.0 never creates: for `7-other` it is domain
/// `other` id 7's directory).
fn state_files(vm: &Vm) -> Vec<String> {
    [
        "/run/libvirt/qemu/{name}.pid",
        "/run/libvirt/qemu/{name}.xml",
        "/var/log/libvirt/qemu/{name}.log",
        "/var/lib/libvirt/qemu/domain-{short}/monitor.sock",
        "/var/lib/libvirt/qemu/domain-{short}/master-key.aes",
        "/var/lib/libvirt/qemu/channel/target/domain-{short}/org.qemu.guest_agent.0",
        "/var/lib/libvirt/qemu/nvram/{name}_VARS.fd",
        "/run/libvirt/qemu/swtpm/{short}-swtpm.pid",
        "/run/libvirt/qemu/swtpm/{short}-swtpm.sock",
        "/run/libvirt/qemu/{short}-fs0-fs.pid",
        "/var/log/libvirt/qemu/{name}-fs0-virtiofsd.log",
    ]
    .iter()
    .map(|t| vm.fill(t))
    .collect()
}

/// The compiled base rules of `vm` (every rule of its `.files`), as parser regexes.
fn compiled_base_rules(vm: &Vm) -> Vec<(String, String)> {
    let policy = Policy::new();
    create_as(&policy, vm, &vm.xml("", ""));
    let files = std::fs::read_to_string(policy.libvirt(&format!("{}.files", vm.profile())))
        .expect(".files");
    let exprs = compiled_exprs(&policy, &policy.libvirt(&vm.profile()));
    exprs
        .into_iter()
        .filter(|(aare, _)| files.contains(&format!("\"{aare}\"")))
        .collect()
}

/// Domains whose base rules libvirt 9.0 made reach each other's files: `7-other` and
/// `other` with id 7 (`domain-<name>/monitor.sock`), `1-other-swtpm` and `other` with id 1
/// (`/run/libvirt/**/<name>.pid` and the swtpm pid file), `other-fs0-virtiofsd` and
/// `other` (`/var/log/libvirt/**/<name>.log` and the virtiofsd log).
#[test]
fn no_base_rule_of_one_domain_matches_a_file_of_another() {
    let pairs = [
        (Vm::new("7-other", 3), Vm::new("other", 7)),
        (Vm::new("other", 7), Vm::new("7-other", 3)),
        (Vm::new("1-other-swtpm", 4), Vm::new("other", 1)),
        (Vm::new("other-swtpm", 2), Vm::new("other", 5)),
        (Vm::new("other-fs0-virtiofsd", 6), Vm::new("other", 9)),
    ];
    check_the_regex_matcher();
    for (a, b) in &pairs {
        let rules = compiled_base_rules(a);
        assert!(rules.len() >= 4, "{}: {rules:?}", a.name);
        for theirs in state_files(b) {
            for (aare, re) in &rules {
                assert!(
                    !regex_matches(re, &theirs),
                    "{}'s rule {aare} matches {}'s {theirs}",
                    a.name,
                    b.name
                );
            }
        }
        // Its own files: the pid file, log, private and channel directories, nvram.
        for own in state_files(a)
            .iter()
            .filter(|f| !f.ends_with(".xml") && !f.contains("swtpm/") && !f.contains("fs0"))
            // The log of a name ending in -virtiofsd is dropped (see the next test).
            .filter(|f| !(a.name.ends_with("-virtiofsd") && f.ends_with(".log")))
        {
            assert!(
                rules.iter().any(|(_, re)| regex_matches(re, own)),
                "{}: none of its rules matches its own {own}: {rules:?}",
                a.name
            );
        }
    }
}

/// The base rules of a name that would make them another domain's file are dropped, with
/// a warning naming the file and why.
#[test]
fn a_name_that_is_another_domains_file_gets_no_rule_for_it() {
    let vm = Vm::new("1-other-fs0-fs", 2);
    let o = dry_create_as(&vm, &vm.xml("", ""), &[]);
    assert!(
        !o.dry_rules().iter().any(|r| r.contains(".pid")),
        "{:?}",
        o.dry_rules()
    );
    let err = o.stderr;
    assert!(
        err.contains("warning: domain base: no rule for '/run/libvirt/qemu/1-other-fs0-fs.pid': it belongs to another domain's private state"),
        "{err}"
    );
}

#[test]
fn the_abstraction_grants_no_domain_every_domains_nvram() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("abstractions/libvirt-qemu"),
    )
    .expect("abstraction");
    for line in text.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
        for dir in ["/var/lib/libvirt", "/run/libvirt", "/var/log/libvirt"] {
            assert!(
                !line.contains(dir),
                "abstraction rule reaches {dir}: {line}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// A matcher for the regex dialect `apparmor_parser -D rule-exprs` prints: literal
// characters, `\` escapes (`\x00` is NUL), classes `[...]` (with `^`), groups `(a|b)` and
// the `*`, `+`, `?` quantifiers; anchored at both ends.

#[derive(Debug)]
enum Node {
    Char(char),
    Class(bool, Vec<char>),
    Group(Vec<Vec<(Node, char)>>),
}

fn escaped(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> char {
    match chars.next() {
        Some('x') => {
            let h: String = chars.by_ref().take(2).collect();
            u32::from_str_radix(&h, 16)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{0}')
        }
        Some(c) => c,
        None => '\\',
    }
}

fn parse_seq(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Vec<Vec<(Node, char)>> {
    let mut alts = vec![Vec::new()];
    while let Some(c) = chars.next() {
        let node = match c {
            ')' => return alts,
            '|' => {
                alts.push(Vec::new());
                continue;
            }
            '(' => Node::Group(parse_seq(chars)),
            '[' => {
                let neg = chars.peek() == Some(&'^');
                if neg {
                    chars.next();
                }
                let mut set = Vec::new();
                while let Some(c) = chars.next() {
                    match c {
                        ']' => break,
                        '\\' => set.push(escaped(chars)),
                        c => set.push(c),
                    }
                }
                Node::Class(neg, set)
            }
            '\\' => Node::Char(escaped(chars)),
            c => Node::Char(c),
        };
        let q = match chars.peek() {
            Some(&q) if matches!(q, '*' | '+' | '?') => {
                chars.next();
                q
            }
            _ => '1',
        };
        if let Some(seq) = alts.last_mut() {
            seq.push((node, q));
        }
    }
    alts
}

fn match_seq(seq: &[(Node, char)], s: &[char], k: &mut dyn FnMut(&[char]) -> bool) -> bool {
    let Some(((node, q), rest)) = seq.split_first() else {
        return k(s);
    };
    let (min, max) = match q {
        '*' => (0, usize::MAX),
        '+' => (1, usize::MAX),
        '?' => (0, 1),
        _ => (1, 1),
    };
    repeat(node, min, max, rest, s, k)
}

fn repeat(
    node: &Node,
    min: usize,
    max: usize,
    rest: &[(Node, char)],
    s: &[char],
    k: &mut dyn FnMut(&[char]) -> bool,
) -> bool {
    if min == 0 && match_seq(rest, s, k) {
        return true;
    }
    if max == 0 {
        return false;
    }
    match_node(node, s, &mut |after: &[char]| {
        // An unbounded repeat must consume something each round.
        (max != usize::MAX || after.len() < s.len())
            && repeat(
                node,
                min.saturating_sub(1),
                max.saturating_sub(1),
                rest,
                after,
                k,
            )
    })
}

fn match_node(node: &Node, s: &[char], k: &mut dyn FnMut(&[char]) -> bool) -> bool {
    match node {
        Node::Char(c) => s.first() == Some(c) && k(&s[1..]),
        Node::Class(neg, set) => s
            .first()
            .is_some_and(|c| set.contains(c) != *neg && k(&s[1..])),
        Node::Group(alts) => alts.iter().any(|alt| match_seq(alt, s, k)),
    }
}

fn regex_matches(re: &str, s: &str) -> bool {
    let alts = parse_seq(&mut re.chars().peekable());
    let s: Vec<char> = s.chars().collect();
    alts.iter()
        .any(|alt| match_seq(alt, &s, &mut |rest: &[char]| rest.is_empty()))
}

/// The matcher reads the parser's dialect (checked before it judges the base rules).
fn check_the_regex_matcher() {
    let re = "/var/log/libvirt/[^/\\x00][^\\x00]*/7-other\\.log";
    assert!(regex_matches(re, "/var/log/libvirt/qemu/7-other.log"));
    assert!(regex_matches(re, "/var/log/libvirt/a/b/7-other.log"));
    assert!(!regex_matches(re, "/var/log/libvirt/7-other.log"));
    assert!(!regex_matches(re, "/var/log/libvirt/qemu/7-otherXlog"));
    let dir = "/a/b/(|[^\\x00]*)";
    assert!(regex_matches(dir, "/a/b/"));
    assert!(regex_matches(dir, "/a/b/c/d"));
    assert!(!regex_matches(dir, "/a/bc"));
    let one = "/d/[^/\\x00][^/\\x00]*";
    assert!(regex_matches(one, "/d/x"));
    assert!(!regex_matches(one, "/d/x/y"));
    assert!(!regex_matches(one, "/d/"));
}

/// An image header is another way in: a qcow2 (made by qemu-img) whose backing file is
/// another domain's master key or NVRAM is refused, naming the image that names it.
#[test]
fn a_backing_file_in_another_domains_state_is_refused() {
    let t = Tree::new();
    let vm = Vm::new("7-other", 3);
    for target in [
        "/var/lib/libvirt/qemu/domain-7-other/master-key.aes",
        "/var/lib/libvirt/qemu/nvram/other_VARS.fd",
    ] {
        let img = t.qcow2("top.qcow2", Some((target, "raw")));
        let img = img.to_str().expect("utf-8");
        let xml = vm.xml(
            &disk(img, "vda", "      <driver name='qemu' type='qcow2'/>\n"),
            "",
        );
        let err = refused_as(&vm, &xml, &[], 3);
        assert!(
            err.contains(&format!(
                "'{target}': belongs to another domain's private state"
            )) && err.contains("(from disk vda backing 1)")
                && err.contains("comes from an image header"),
            "{err}"
        );
    }
    // Its own private directory is fine (read-only, as a backing file).
    let own = "/var/lib/libvirt/qemu/domain-3-7-other/base.raw";
    let img = t.qcow2("own.qcow2", Some((own, "raw")));
    let xml = vm.xml(
        &disk(
            img.to_str().expect("utf-8"),
            "vda",
            "      <driver name='qemu' type='qcow2'/>\n",
        ),
        "",
    );
    let o = dry_create_as(&vm, &xml, &[]);
    assert!(o.dry_rules().contains(&format!("\"{own}\" rk,")));
}
