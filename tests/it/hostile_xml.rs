//! Domain XML written to mislead or exhaust the helper: elements in a foreign namespace,
//! repeated containers and singletons, `<uuid>` spellings, and inputs past the caps. What
//! is read must be what libvirt's XPath reads (`src/conf/domain_conf.c`), and every cap is
//! one error line naming the limit, exit 1, nothing written. Every profile is compiled by
//! the real apparmor_parser.
//!
//! Linearity is not tested by timing (the guide forbids timed tests): the reader handles
//! each element in time bounded by the caps (see `src/xml.rs`), and `docs/differences.md`
//! gives the measured figures.

use crate::support::*;

/// A file disk of type `file` with an extra attribute string on `<disk>`.
fn raw_disk(disk_attrs: &str, path: &str, target: &str) -> String {
    format!(
        "    <disk type='file' device='disk'{disk_attrs}>\n      <source file='{}'/>\n      <target dev='{target}' bus='virtio'/>\n    </disk>\n",
        xml_attr(path)
    )
}

/// The `# element N` origin comment of each rule line of a dry run's `.files`, with the
/// rule: shows which element (and which of its kind) caused each grant.
fn rules_with_origin(o: &Run) -> Vec<(String, String)> {
    o.stdout
        .lines()
        .filter_map(|l| {
            let (rule, origin) = l.split_once("  # ")?;
            Some((rule.trim().to_string(), origin.to_string()))
        })
        .collect()
}

#[test]
fn elements_in_a_foreign_namespace_are_not_devices() {
    let t = Tree::new();
    let own = t.file("own.img", b"");
    let victims: Vec<String> = (1..=5)
        .map(|i| t.file(&format!("victim{i}.img"), b"").display().to_string())
        .collect();
    let devices = format!(
        "{}{}{}    <x:disk xmlns:x='http://example.org/' type='file' device='disk'><source file='{}'/><target dev='vdc'/></x:disk>\n\
         <audio xmlns='http://evil' type='file' path='{}'/>\n",
        raw_disk("", &own.display().to_string(), "vda"),
        // A default-namespace redeclaration: to libvirt this is not `disk` in no namespace.
        raw_disk(" xmlns='http://evil'", &victims[0], "vdb"),
        // A libvirt element name, but under a prefix bound to another namespace.
        raw_disk("", &victims[1], "vdd").replace("<disk", "<y:disk xmlns:y='http://evil'").replace("</disk", "</y:disk"),
        victims[2],
        victims[3],
    );
    // <metadata> holds other applications' elements; qemu:commandline is libvirt's own
    // namespace, but libvirt 9.0's helper reads nothing from it either.
    let xml = domain(&devices, "").replacen(
        "  <devices>",
        &format!(
            "  <metadata><disk type='file'><source file='{v}'/><target dev='vde'/></disk></metadata>\n  \
             <qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:arg value='-drive'/><qemu:arg value='file={v}'/></qemu:commandline>\n  <devices>",
            v = victims[4]
        ),
        1,
    );
    let o = dry_create(&xml, &[]);
    assert_lines(&o.device_rules(), &[&format!("\"{}\" rwk,", own.display())]);
    let all = o.stdout;
    for v in &victims {
        assert!(!all.contains(v.as_str()), "{v} granted:\n{all}");
    }
}

#[test]
fn every_devices_element_is_read_in_document_order() {
    let t = Tree::new();
    let a = t.file("a.img", b"").display().to_string();
    let b = t.file("b.img", b"").display().to_string();
    let first = format!(
        "{}    <audio id='1' type='file' path='/srv/audio/0.wav'/>\n",
        raw_disk("", &a, "vda")
    );
    let second = format!(
        "  <devices>\n    <audio id='2' type='file' path='/srv/audio/1.wav'/>\n{}  </devices>\n  <devices/>\n",
        raw_disk("", &b, "vdb")
    );
    // libvirt's `./devices/disk` is every <disk> of every <devices>: the second list is
    // neither dropped nor half-read.
    let xml = domain(&first, "").replace("</devices>\n", &format!("</devices>\n{second}"));
    let o = dry_create(&xml, &[]);
    let got: Vec<(String, String)> = rules_with_origin(&o)
        .into_iter()
        .filter(|(_, origin)| origin != "domain base" && !origin.starts_with("interface"))
        .collect();
    let want = [
        (format!("\"{a}\" rwk,"), "disk vda".to_string()),
        (format!("\"{b}\" rwk,"), "disk vdb".to_string()),
        ("\"/srv/audio/0.wav\" w,".to_string(), "audio 0".to_string()),
        ("\"/srv/audio/1.wav\" w,".to_string(), "audio 1".to_string()),
    ];
    assert_eq!(got, want);
}

#[test]
fn name_and_uuid_are_the_first_in_no_namespace_with_all_their_text() {
    // A first <name>/<uuid> in another namespace and a differing second one change
    // nothing; the name is XPath string(): the text of child elements counts.
    let xml = domain_named(
        "attacker<b>-x</b></name><name>victim",
        "",
        "",
    )
    .replacen("<name>", "<name xmlns='http://evil'>victim</name><name>", 1)
    .replacen(
        &format!("<uuid>{UUID}</uuid>"),
        &format!(
            "<uuid xmlns='http://evil'>11111111-1111-1111-1111-111111111111</uuid><uuid>{UUID}</uuid>\
             <uuid>22222222-2222-2222-2222-222222222222</uuid>"
        ),
        1,
    );
    let o = dry_create(&xml, &[]);
    let rules = o.dry_rules();
    assert!(rules.iter().all(|r| !r.contains("victim")), "{rules:#?}");
    let named: Vec<&String> = rules.iter().filter(|r| r.contains("attacker")).collect();
    assert!(!named.is_empty(), "{rules:#?}");
    assert!(named.iter().all(|r| r.contains("attacker-x")), "{named:#?}");
    assert!(
        o.dry_files()
            .iter()
            .all(|(p, _)| p.display().to_string().contains(PROFILE)),
        "the profile of the first <uuid>"
    );
}

#[test]
fn uuid_spellings_are_exactly_those_libvirt_accepts() {
    // virUUIDParse: ASCII whitespace around, '-' or ' ' before any pair, either case.
    for spelling in [
        "00000000-0000-0000-0000-0123456789AB",
        "000000000000000000000123456789ab",
        "\n  00000000-0000-0000-0000-0123456789ab\t\n",
        "00-00-00-00-00-00-00-00-00-00-01-23-45-67-89-ab",
        "00 00 00 00 0000--0000 0000-01 23 45 67 89 ab",
        "--000000000000000000000123456789ab",
    ] {
        let xml = domain("", "").replace(UUID, spelling);
        let o = dry_create(&xml, &[]);
        assert!(
            o.stdout.contains(&format!("/libvirt/{PROFILE}.files")),
            "{spelling:?}"
        );
    }
    for spelling in [
        "{00000000-0000-0000-0000-0123456789ab}",
        "urn:uuid:00000000-0000-0000-0000-0123456789ab",
        "00000000-0000-0000-0000-0123456789a",
        "00000000-0000-0000-0000-0123456789abc",
        "00000000-0000-0000-0000-0123456789ag",
        "0-0000000-0000-0000-0000-0123456789ab",
        "00000000-0000-0000-0000-0123456789ab-",
        "00000000_0000_0000_0000_0123456789ab",
    ] {
        let xml = domain("", "").replace(UUID, spelling);
        let err = create_refused(&xml, &[], 1);
        assert!(
            err.contains("domain XML: <uuid>: ") && err.contains("is not a valid UUID"),
            "{spelling:?}: {err}"
        );
    }
    // -u is compared with the UUID as libvirt formats it (virUUIDFormat), whatever its
    // spelling in the XML.
    let xml = domain("", "").replace(UUID, "00000000 0000 0000 0000 0123456789AC");
    let err = create_refused(&xml, &[], 1);
    assert!(
        err.contains(&format!(
            "profile name {PROFILE} does not match the domain's <uuid> 00000000-0000-0000-0000-0123456789ac"
        )),
        "{err}"
    );
}

#[test]
fn every_cap_is_one_line_naming_the_limit() {
    let attrs = |n: usize| (0..n).map(|i| format!(" a{i}='1'")).collect::<String>();
    let t = Tree::new();
    let img = t.file("a.img", b"").display().to_string();
    // At the caps: accepted.
    let xml = domain(&raw_disk(&attrs(254), &img, "vda"), "");
    dry_create(&xml, &[]);
    let decls = (0..64)
        .map(|i| format!(" xmlns:p{i}='urn:x:{i}'"))
        .collect::<String>();
    dry_create(
        &domain("", "").replacen("<domain", &format!("<domain{decls}"), 1),
        &[],
    );

    // Past them: refused, nothing written.
    let cases = [
        (
            domain(&raw_disk(&attrs(255), &img, "vda"), ""),
            "domain XML: line 12: <disk> has more than 256 attributes",
        ),
        (
            domain("", "").replacen("<domain", &format!("<domain{decls} xmlns:q='urn:y'"), 1),
            "domain XML: line 1: more than 64 namespace declarations in scope",
        ),
        (
            domain(&format!("{}{}", "<a>".repeat(512), "</a>".repeat(512)), ""),
            "domain XML: line 12: elements nested deeper than 512 levels",
        ),
        (
            // libvirt's helper reads at most MAX_FILE_LEN (10 MiB) of standard input.
            {
                let xml = domain("", "");
                let pad = " ".repeat(10 * 1024 * 1024 + 1 - xml.len());
                xml + &pad
            },
            "standard input: the domain XML is larger than 10 MiB",
        ),
    ];
    for (xml, want) in cases {
        let err = create_refused(&xml, &[], 1);
        assert_eq!(err.trim_end(), format!("virt-aa-helper: error: {want}"));
    }
}

#[test]
fn every_acpi_table_is_read_as_libvirt_reads_them() {
    // libvirt reads `./os/acpi/table` across every <os> and <acpi>; since 11.2 it takes any
    // number of them (9.0 refused a second one), so every one gets its rule: reading only
    // the first would leave QEMU without the others.
    let t = Tree::new();
    let s = t.file("slic.bin", b"").display().to_string();
    let r = t.file("ssdt.bin", b"").display().to_string();
    let one = format!("    <acpi><table type='slic'>{s}</table></acpi>\n");
    let two = format!("{one}  </os>\n  <os>\n    <acpi><table type='raw'>{r}</table></acpi>\n");
    let o = dry_create(&domain("", &two), &[]);
    let rules = o.dry_rules();
    for p in [&s, &r] {
        assert!(rules.contains(&format!("\"{p}\" r,")), "{}", o.stdout);
    }
    // A type libvirt does not know is refused, as libvirt's parser refuses it.
    let bad = format!("    <acpi><table type='xsdt'>{s}</table></acpi>\n");
    let err = create_refused(&domain("", &bad), &[], 1);
    assert!(
        err.contains("domain XML: <os><acpi><table>: unknown ACPI table type 'xsdt'"),
        "{err}"
    );
}
