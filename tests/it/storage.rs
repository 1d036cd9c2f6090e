//! Storage: backing chains and their companions with real images made by qemu-img, and
//! the refusals that keep a header from handing the guest the host.

use crate::support::*;
use std::process::Command;

fn qcow2_driver() -> &'static str {
    "      <driver name='qemu' type='qcow2'/>\n"
}

fn driver(fmt: &str) -> String {
    format!("      <driver name='qemu' type='{fmt}'/>\n")
}

fn dry(xml: &str) -> Run {
    dry_create(xml, &[])
}

/// Refused as a restricted path (exit 3), nothing written; stderr.
fn refused(xml: &str) -> String {
    create_refused(xml, &[], 3)
}

/// A backing layer's rule: read-only, without libvirt 9.0's `deny w` (the default
/// `backing_deny_write = no`, as libvirt 12.1; docs/weak-spots.md W6).
fn ro(path: &str) -> [String; 1] {
    [format!("\"{path}\" rk,")]
}

fn qemu_img(args: &[&str]) {
    let out = Command::new(qemu_img_path())
        .args(args)
        .output()
        .expect("qemu-img");
    assert!(
        out.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn qemu_img_path() -> std::path::PathBuf {
    crate::support::qemu_img()
}

/// A chain of `depth` qcow2 images below `top.qcow2`, each naming the next by a relative
/// name; returns the expected rule lines.
fn chain(t: &Tree, depth: usize) -> (String, Vec<String>) {
    t.qcow2("chain/l0.qcow2", None);
    for i in 1..=depth {
        t.qcow2(
            &format!("chain/l{i}.qcow2"),
            Some((&format!("l{}.qcow2", i - 1), "qcow2")),
        );
    }
    let top = t.s(&format!("chain/l{depth}.qcow2"));
    let mut want = vec![format!("\"{top}\" rwk,")];
    for i in (0..depth).rev() {
        want.extend(ro(&t.s(&format!("chain/l{i}.qcow2"))));
    }
    (top, want)
}

#[test]
fn qcow2_chains_of_depth_1_2_and_50() {
    for depth in [1, 2, 50] {
        let t = Tree::new();
        let (top, want) = chain(&t, depth);
        let o = dry(&domain(&disk(&top, "vda", qcow2_driver()), ""));
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        assert_lines(&o.device_rules(), &want);
        let out = &o.stdout;
        assert!(
            out.contains(&format!("# disk vda backing {depth}\n")),
            "depth {depth}"
        );
    }
}

#[test]
fn relative_backing_names_resolve_against_the_image_as_opened() {
    // QEMU resolves a relative name against the directory of the path it opened, so an
    // image reached through a symlinked directory finds its base next to the link target.
    let t = Tree::new();
    t.qcow2("pool/base.qcow2", None);
    t.qcow2("pool/sub/top.qcow2", Some(("../base.qcow2", "qcow2")));
    t.symlink("vm", t.path("pool/sub"));
    let o = dry(&domain(
        &disk(&t.s("vm/top.qcow2"), "vda", qcow2_driver()),
        "",
    ));
    let base = t.s("pool/base.qcow2");
    assert_lines(
        &o.device_rules(),
        &[
            &format!("\"{}\" rwk,", t.s("pool/sub/top.qcow2")),
            &ro(&base)[0],
        ],
    );
}

#[test]
fn qed_with_raw_backing() {
    let t = Tree::new();
    t.file("base.raw", &[0u8; 4096]);
    let top = t.path("top.qed");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qed",
        "-b",
        "base.raw",
        "-F",
        "raw",
        top.to_str().unwrap(),
        "1M",
    ]);
    let o = dry(&domain(&disk(&t.s("top.qed"), "vda", &driver("qed")), ""));
    let base = t.s("base.raw");
    assert_lines(
        &o.device_rules(),
        &[&format!("\"{}\" rwk,", t.s("top.qed")), &ro(&base)[0]],
    );
}

#[test]
fn qed_with_qcow2_backing_is_not_followed_below() {
    // QED cannot record a non-raw backing format: the backing file gets its rule, but its
    // own header is not probed.
    let t = Tree::new();
    t.qcow2("deep.qcow2", None);
    t.qcow2("mid.qcow2", Some(("deep.qcow2", "qcow2")));
    let top = t.path("top.qed");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qed",
        "-b",
        "mid.qcow2",
        "-F",
        "qcow2",
        top.to_str().unwrap(),
        "1M",
    ]);
    let o = dry(&domain(&disk(&t.s("top.qed"), "vda", &driver("qed")), ""));
    let mid = t.s("mid.qcow2");
    assert_lines(
        &o.device_rules(),
        &[&format!("\"{}\" rwk,", t.s("top.qed")), &ro(&mid)[0]],
    );
    assert!(o.stderr.contains("is not probed"), "{}", o.stderr);
}

#[test]
fn vmdk_with_backing_and_flat_extents() {
    let t = Tree::new();
    let parent = t.path("parent.vmdk");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "vmdk",
        "-o",
        "subformat=monolithicFlat",
        parent.to_str().unwrap(),
        "1M",
    ]);
    let child = t.path("child.vmdk");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "vmdk",
        "-b",
        "parent.vmdk",
        "-F",
        "vmdk",
        child.to_str().unwrap(),
        "1M",
    ]);
    let o = dry(&domain(
        &disk(&t.s("child.vmdk"), "vda", &driver("vmdk")),
        "",
    ));
    let p = t.s("parent.vmdk");
    let flat = t.s("parent-flat.vmdk");
    assert_lines(
        &o.device_rules(),
        &[
            &format!("\"{}\" rwk,", t.s("child.vmdk")),
            &ro(&p)[0],
            &ro(&flat)[0],
        ],
    );
    assert!(o.stdout.contains("# disk vda backing 1 extent"));
}

#[test]
fn qcow2_external_data_file_named_by_the_header_is_read_only_for_a_read_only_disk() {
    let t = Tree::new();
    let img = t.path("img/with-data.qcow2");
    std::fs::create_dir_all(img.parent().unwrap()).unwrap();
    let data = t.path("data/raw.data");
    std::fs::create_dir_all(data.parent().unwrap()).unwrap();
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-o",
        &format!("data_file={},data_file_raw=on", data.display()),
        img.to_str().unwrap(),
        "1M",
    ]);
    let o = dry(&domain(
        &disk(&t.s("img/with-data.qcow2"), "vda", qcow2_driver()),
        "",
    ));
    // No grant comes from image bytes for a writable
    // disk; the XML's <dataStore> is the way to a writable data file
    // (tests/it/hostile_images.rs).
    let want = [format!("\"{}\" rwk,", t.s("img/with-data.qcow2"))];
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_lines(&o.device_rules(), &want);
    assert!(!o.stdout.contains("# disk vda data file"));
    assert!(o.stderr.contains("<dataStore>"), "{}", o.stderr);
    // Read-only disk: the data file is read-only too.
    let o = dry(&domain(
        &disk(
            &t.s("img/with-data.qcow2"),
            "vda",
            &format!("{}      <readonly/>\n", qcow2_driver()),
        ),
        "",
    ));
    let mut want: Vec<String> = ro(&t.s("img/with-data.qcow2")).to_vec();
    want.extend(ro(&t.s("data/raw.data")));
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_lines(&o.device_rules(), &want);
}

#[test]
fn backing_file_reaching_etc_shadow_is_refused_every_way() {
    let t = Tree::new();
    t.symlink("links/shadow.img", "/etc/shadow");
    let depth = t.root.components().count() - 1;
    let dotdot = format!("{}etc/shadow", "../".repeat(depth + 2));
    for (name, backing) in [
        ("direct.qcow2", "/etc/shadow".to_string()),
        ("via-link.qcow2", t.s("links/shadow.img")),
        ("dotdot.qcow2", dotdot),
    ] {
        t.qcow2(name, Some((&backing, "raw")));
        let err = refused(&domain(&disk(&t.s(name), "vda", qcow2_driver()), ""));
        assert!(err.contains("'/etc/shadow'"), "{name}: {err}");
        assert!(err.contains("/etc is never allowed"), "{name}: {err}");
        assert!(err.contains("disk vda backing 1"), "{name}: {err}");
        assert!(err.contains("comes from an image header"), "{name}: {err}");
    }
}

#[test]
fn data_file_reaching_a_restricted_path_is_refused() {
    let t = Tree::new();
    // Forge the extension by hand: qemu-img refuses to create a data file in /etc.
    t.qcow2("evil.qcow2", None);
    let mut bytes = std::fs::read(t.path("evil.qcow2")).unwrap();
    let name = b"/etc/passwd";
    // v3 header: extensions start at header_length (offset 100).
    let hl = u32::from_be_bytes(bytes[100..104].try_into().unwrap()) as usize;
    let mut ext = Vec::new();
    ext.extend_from_slice(&0x4441_5441u32.to_be_bytes());
    ext.extend_from_slice(&(name.len() as u32).to_be_bytes());
    ext.extend_from_slice(name);
    ext.resize(8 + name.len().div_ceil(8) * 8, 0);
    ext.extend_from_slice(&[0u8; 8]);
    bytes[hl..hl + ext.len()].copy_from_slice(&ext);
    // The external-data-file incompatible bit, without which QEMU ignores the extension.
    bytes[79] |= 4;
    std::fs::write(t.path("evil.qcow2"), &bytes).unwrap();
    // (A read-only disk: a writable one's header-named data file gets no rule at all.)
    let err = refused(&domain(
        &disk(
            &t.s("evil.qcow2"),
            "vda",
            &format!("{}      <readonly/>\n", qcow2_driver()),
        ),
        "",
    ));
    assert!(
        err.contains("'/etc/passwd'") && err.contains("disk vda data file"),
        "{err}"
    );
}

#[test]
fn json_pseudo_path_backing_is_the_local_file() {
    let t = Tree::new();
    t.qcow2("base.qcow2", None);
    let json = format!(
        r#"json:{{"driver":"qcow2","file":{{"driver":"file","filename":"{}"}}}}"#,
        t.s("base.qcow2")
    );
    t.qcow2("top.qcow2", Some((&json, "qcow2")));
    let o = dry(&domain(&disk(&t.s("top.qcow2"), "vda", qcow2_driver()), ""));
    let base = t.s("base.qcow2");
    assert_lines(
        &o.device_rules(),
        &[&format!("\"{}\" rwk,", t.s("top.qcow2")), &ro(&base)[0]],
    );
}

#[test]
fn network_backing_names_get_no_rule_and_a_warning() {
    let t = Tree::new();
    for (i, name) in [
        "nbd:unix:/run/nbd.sock",
        "http://example.org/base.img",
        r#"json:{"driver":"nbd","server":{"type":"unix","path":"/s"}}"#,
    ]
    .iter()
    .enumerate()
    {
        let img = format!("n{i}.qcow2");
        t.qcow2(&img, Some((name, "raw")));
        let o = dry(&domain(&disk(&t.s(&img), "vda", qcow2_driver()), ""));
        assert_lines(&o.device_rules(), &[&format!("\"{}\" rwk,", t.s(&img))]);
        assert!(
            o.stderr.contains("names the non-local"),
            "{name}: {}",
            o.stderr
        );
    }
}

#[test]
fn declared_format_with_the_wrong_magic_is_an_error() {
    let t = Tree::new();
    t.file("raw.img", &[0u8; 4096]);
    let o = run(
        &["-d", "-c", "-u", PROFILE],
        Some(&domain(&disk(&t.s("raw.img"), "vda", qcow2_driver()), "")),
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(
        o.stderr.contains("declared qcow2 but is not a qcow2 image"),
        "{}",
        o.stderr
    );
}

#[test]
fn unreadable_header_keeps_the_rule_and_says_the_chain_ends() {
    // A FIFO where an image should be: never opened (it would block), warned about.
    let t = Tree::new();
    let fifo = t.path("pipe.qcow2");
    let st = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(st.success());
    let o = dry(&domain(
        &disk(&t.s("pipe.qcow2"), "vda", qcow2_driver()),
        "",
    ));
    assert_lines(
        &o.device_rules(),
        &[&format!("\"{}\" rwk,", t.s("pipe.qcow2"))],
    );
    let err = o.stderr;
    assert!(
        err.contains("cannot read the header") && err.contains("chain ends there"),
        "{err}"
    );
}

/// A failed run still prints what it found before the failing element, in document order
/// whichever stage found it (the resolver: an unreadable header, a missing file; the rules
/// stage: a disk left to the admin), then the one error; nothing is written.
#[test]
fn warnings_before_a_refused_disk_are_printed_in_document_order() {
    let t = Tree::new();
    let fifo = t.path("pipe.qcow2");
    let st = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(st.success());
    t.file("admin.img", b"");
    let disks = [
        disk(&t.s("pipe.qcow2"), "vda", qcow2_driver()),
        format!(
            "    <disk type='file' device='disk'>\n      <source file='{}'><seclabel model='apparmor' relabel='no'/></source>\n      <target dev='vdb'/>\n    </disk>\n",
            t.s("admin.img")
        ),
        disk(&t.s("missing/new.img"), "vdc", ""),
        disk("/etc/shadow", "vdd", ""),
    ];
    let err = refused(&domain(&disks.concat(), ""));
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    let want = [
        format!(
            "virt-aa-helper: warning: cannot read the header of '{}' (from disk vda)",
            t.s("pipe.qcow2")
        ),
        "virt-aa-helper: warning: disk vdb: <seclabel model='apparmor' relabel='no'/>".to_string(),
        format!(
            "virt-aa-helper: warning: '{}' (from disk vdc) does not exist yet",
            t.s("missing/new.img")
        ),
        "virt-aa-helper: error: '/etc/shadow': ".to_string(),
    ];
    for (line, want) in lines.iter().zip(&want) {
        assert!(line.starts_with(want.as_str()), "{want:?} first in:\n{err}");
    }
    assert!(lines[3].ends_with("(from disk vdd)"), "{err}");

    // Without the refused disk: the same warnings, in the same order.
    let o = dry(&domain(&disks[..3].concat(), ""));
    let err = o.stderr;
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    for (line, want) in lines.iter().zip(&want) {
        assert!(
            line.starts_with(want.as_str()),
            "{want:?} in place in:\n{err}"
        );
    }
}

/// The same across element families: the rules are built family by family in libvirt's
/// order (disks, then chardevs, then the paths 9.0 ignored), but a failed run prints the
/// warnings found before the error in the order of their elements in the document.
#[test]
fn warnings_from_several_element_families_come_in_document_order() {
    let t = Tree::new();
    let devices = format!(
        "    <serial type='file'><source path='{serial}'/></serial>\n\
         \x20   <audio id='1' type='file' path='guest.wav'/>\n\
         {disk}\
         \x20   <pstore backend='acpi-erst'><path>/etc/shadow</path><size unit='KiB'>8</size></pstore>\n",
        serial = t.s("missing/serial.log"),
        disk = disk(&t.s("missing/new.img"), "vda", ""),
    );
    let err = refused(&domain(&devices, ""));
    let lines: Vec<&str> = err.lines().collect();
    let want = [
        format!(
            "virt-aa-helper: warning: '{}' (from serial 0) does not exist yet",
            t.s("missing/serial.log")
        ),
        "virt-aa-helper: warning: audio 0: 'guest.wav' is not an absolute path; no rule"
            .to_string(),
        format!(
            "virt-aa-helper: warning: '{}' (from disk vda) does not exist yet",
            t.s("missing/new.img")
        ),
        "virt-aa-helper: error: '/etc/shadow': ".to_string(),
    ];
    assert_eq!(lines.len(), want.len(), "{err}");
    for (line, want) in lines.iter().zip(&want) {
        assert!(
            line.starts_with(want.as_str()),
            "{want:?} in place in:\n{err}"
        );
    }
    assert!(lines[3].ends_with("(from pstore 0)"), "{err}");
}

#[test]
fn self_referencing_image_is_a_loop() {
    let t = Tree::new();
    t.qcow2("self.qcow2", Some(("self.qcow2", "qcow2")));
    let o = run(
        &["-d", "-c", "-u", PROFILE],
        Some(&domain(
            &disk(&t.s("self.qcow2"), "vda", qcow2_driver()),
            "",
        )),
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(o.stderr.contains("backing chain loop"), "{}", o.stderr);
}

#[test]
fn chain_deeper_than_200_is_refused() {
    let t = Tree::new();
    t.qcow2("d/l0.qcow2", None);
    for i in 1..=201 {
        t.qcow2(
            &format!("d/l{i}.qcow2"),
            Some((&format!("l{}.qcow2", i - 1), "qcow2")),
        );
    }
    let o = run(
        &["-d", "-c", "-u", PROFILE],
        Some(&domain(
            &disk(&t.s("d/l201.qcow2"), "vda", qcow2_driver()),
            "",
        )),
    );
    assert_eq!(o.status.code(), Some(3), "{}", o.stderr);
    assert!(o.stderr.contains("deeper than 200"), "{}", o.stderr);
}

/// `<backingStore>` elements for `layers` (top-most first; each a file with its
/// `<format type=...>`, or none), closed by an empty `<backingStore/>` if `terminated`.
fn listed(layers: &[(String, Option<&str>)], terminated: bool) -> String {
    let mut xml = String::from("      ");
    for (path, format) in layers {
        xml.push_str("<backingStore type='file'>");
        if let Some(f) = format {
            xml.push_str(&format!("<format type='{f}'/>"));
        }
        xml.push_str(&format!("<source file='{}'/>", xml_attr(path)));
    }
    if terminated {
        xml.push_str("<backingStore/>");
    }
    xml.push_str(&"</backingStore>".repeat(layers.len()));
    xml.push('\n');
    xml
}

/// A qcow2 disk `top` whose XML lists `layers` below it.
fn listed_disk(top: &str, layers: &[(String, Option<&str>)], terminated: bool) -> String {
    domain(
        &disk(
            top,
            "vda",
            &format!("{}{}", qcow2_driver(), listed(layers, terminated)),
        ),
        "",
    )
}

/// After `virsh snapshot-create-as --disk-only`, the persistent XML lists the chain down to
/// the old top only, with no empty `<backingStore/>` after it. libvirt's qemu driver
/// continues such a chain from its last listed layer's header before it starts QEMU
/// (`qemuDomainDetermineDiskChain`), so the base below gets its read-only rule, numbered
/// after the listed layers. A relative name in that header is resolved against the layer
/// as the XML names it (here a symlink), as QEMU does.
#[test]
fn an_unterminated_listed_chain_is_continued_from_its_last_layer() {
    let t = Tree::new();
    t.qcow2("vm/base.qcow2", None);
    t.qcow2("pool/mid.qcow2", Some(("base.qcow2", "qcow2")));
    t.symlink("vm/mid.qcow2", t.path("pool/mid.qcow2"));
    t.qcow2("vm/top.qcow2", Some(("mid.qcow2", "qcow2")));
    let (top, mid, base) = (
        t.s("vm/top.qcow2"),
        t.s("pool/mid.qcow2"),
        t.s("vm/base.qcow2"),
    );
    let layers = [(t.s("vm/mid.qcow2"), Some("qcow2"))];

    let o = dry(&listed_disk(&top, &layers, false));
    assert_lines(
        &o.device_rules(),
        &[&format!("\"{top}\" rwk,"), &ro(&mid)[0], &ro(&base)[0]],
    );
    let out = o.stdout;
    assert!(
        out.contains(&format!("\"{base}\" rk,  # disk vda backing 2\n")),
        "{out}"
    );
    assert_eq!(o.stderr, "");

    // Terminated: the XML says the chain ends there, and no header is read.
    let o = dry(&listed_disk(&top, &layers, true));
    assert_lines(
        &o.device_rules(),
        &[&format!("\"{top}\" rwk,"), &ro(&mid)[0]],
    );
}

/// libvirt never probes a format the XML does not declare (it refuses such a
/// `<backingStore>`): the last layer keeps its rule, the chain below it is not read, and
/// the warning names the layer.
#[test]
fn an_unterminated_listed_layer_without_a_format_is_not_probed() {
    let t = Tree::new();
    t.qcow2("base.qcow2", None);
    t.qcow2("mid.qcow2", Some(("base.qcow2", "qcow2")));
    t.qcow2("top.qcow2", Some(("mid.qcow2", "qcow2")));
    let (top, mid) = (t.s("top.qcow2"), t.s("mid.qcow2"));
    let o = dry(&listed_disk(&top, &[(mid.clone(), None)], false));
    assert_lines(
        &o.device_rules(),
        &[&format!("\"{top}\" rwk,"), &ro(&mid)[0]],
    );
    let err = o.stderr;
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "virt-aa-helper: warning: disk vda backing 1: '{mid}' is the last <backingStore> layer, not terminated by an empty <backingStore/>, but has no <format type=...>: its format is not probed"
        )),
        "{err}"
    );
}

/// What the last listed layer's header names is checked like a discovered chain: a
/// restricted path is refused naming the layer and the header, and a name leading back up
/// the chain is a loop.
#[test]
fn a_continued_chain_is_checked_like_a_discovered_one() {
    let t = Tree::new();
    t.qcow2("top.qcow2", None);
    t.qcow2("evil.qcow2", Some(("/etc/shadow", "raw")));
    let err = refused(&listed_disk(
        &t.s("top.qcow2"),
        &[(t.s("evil.qcow2"), Some("qcow2"))],
        false,
    ));
    for want in [
        "'/etc/shadow'",
        "/etc is never allowed",
        "disk vda backing 2",
        "comes from an image header",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }

    t.qcow2("up.qcow2", Some(("top.qcow2", "qcow2")));
    let o = run(
        &["-d", "-c", "-u", PROFILE],
        Some(&listed_disk(
            &t.s("top.qcow2"),
            &[(t.s("up.qcow2"), Some("qcow2"))],
            false,
        )),
    );
    assert_eq!(o.status.code(), Some(3), "{}", o.stderr);
    assert!(o.stderr.contains("backing chain loop"), "{}", o.stderr);
}

/// The depth cap is the whole chain's: 199 listed layers and one found below the last
/// make 200, one more is refused.
#[test]
fn the_depth_cap_counts_the_listed_layers() {
    let t = Tree::new();
    t.qcow2("top.qcow2", None);
    t.qcow2("l0.qcow2", None);
    t.qcow2("l1.qcow2", Some(("l0.qcow2", "qcow2")));
    t.qcow2("l2.qcow2", Some(("l1.qcow2", "qcow2")));
    let fillers: Vec<(String, Option<&str>)> = (0..198)
        .map(|i| {
            t.file(&format!("f/{i}.raw"), b"");
            (t.s(&format!("f/{i}.raw")), Some("raw"))
        })
        .collect();
    let with_last = |last: &str| {
        let mut layers = fillers.clone();
        layers.push((t.s(last), Some("qcow2")));
        listed_disk(&t.s("top.qcow2"), &layers, false)
    };
    let o = dry(&with_last("l1.qcow2"));
    let out = &o.stdout;
    assert!(
        out.contains(&format!(
            "\"{}\" rk,  # disk vda backing 200\n",
            t.s("l0.qcow2")
        )),
        "{out}"
    );
    assert_eq!(o.device_rules().len(), 1 + 198 + 2);

    let o = run(&["-d", "-c", "-u", PROFILE], Some(&with_last("l2.qcow2")));
    assert_eq!(o.status.code(), Some(3), "{}", o.stderr);
    assert!(o.stderr.contains("deeper than 200"), "{}", o.stderr);
}

/// The last listed layer's own header is read too: the data file it names is read-only
/// like the layer, unless the XML declares the layer's `<dataStore>`, which QEMU then opens
/// instead of the header's name.
#[test]
fn a_continued_chain_reads_the_last_layers_data_file_unless_declared() {
    let t = Tree::new();
    t.file("data/raw.data", &[0u8; 4096]);
    let mid = t.path("mid.qcow2");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-o",
        &format!(
            "data_file={},data_file_raw=on",
            t.path("data/raw.data").display()
        ),
        mid.to_str().unwrap(),
        "1M",
    ]);
    t.qcow2("top.qcow2", Some(("mid.qcow2", "qcow2")));
    let (top, mid, data) = (t.s("top.qcow2"), t.s("mid.qcow2"), t.s("data/raw.data"));
    let o = dry(&listed_disk(&top, &[(mid.clone(), Some("qcow2"))], false));
    assert_lines(
        &o.device_rules(),
        &[&format!("\"{top}\" rwk,"), &ro(&mid)[0], &ro(&data)[0]],
    );
    assert!(
        o.stdout
            .contains(&format!("\"{data}\" rk,  # disk vda backing 1 data file\n")),
        "{}",
        o.stdout
    );

    t.file("data/declared.data", &[0u8; 4096]);
    let declared = t.s("data/declared.data");
    let xml = listed_disk(&top, &[(mid.clone(), Some("qcow2"))], false).replace(
        &format!("<source file='{mid}'/>"),
        &format!(
            "<source file='{mid}'><dataStore type='file'><format type='raw'/><source file='{declared}'/></dataStore></source>"
        ),
    );
    let o = dry(&xml);
    assert_lines(
        &o.device_rules(),
        &[&format!("\"{top}\" rwk,"), &ro(&mid)[0], &ro(&declared)[0]],
    );
}
