//! Domain XML to [`Domain`]: the first stage of the pipeline, with no filesystem access.
//!
//! Only elements that decide a file rule are read; everything else is ignored, as libvirt's
//! helper ignores what it has no rule for. What is read is checked the way libvirt's own
//! parser checks it (known `type` strings, a valid `<uuid>`, a name without `/`), so that a
//! domain libvirt would refuse is refused here too, with the element named.

use crate::domain::{
    Access, Backing, Chardev, ChardevClass, Disk, Domain, Feature, Filesystem, Graphics, Hostdev,
    Interface, Layer, LocalKind, Os, OtherPath, Shmem, Smartcard, Source, Tpm, VirtType,
};
use crate::error::{quote, Error, Result};
use crate::xml::{self, Element};
use std::collections::HashMap;

/// The `<os><type>` values libvirt 9.0 knows (`virDomainOSType`).
const OS_TYPES: [&str; 6] = ["hvm", "xen", "linux", "exe", "uml", "xenpvh"];

/// `<disk type=...>` values libvirt 9.0 knows (`virStorageType`).
const DISK_TYPES: [&str; 8] = [
    "file",
    "block",
    "dir",
    "network",
    "volume",
    "nvme",
    "vhostuser",
    "vhostvdpa",
];

/// Chardev types whose `<source path>` is a host file (libvirt's helper, `get_files`).
const PATH_CHARDEVS: [&str; 5] = ["pty", "dev", "file", "unix", "pipe"];

/// Parses a domain XML document.
///
/// Repeated containers are read as libvirt's XPath reads them: the devices of every
/// `<devices>` (`./devices/disk` in `virDomainDefParseXML`), and from `<os>` the first of
/// each element in any `<os>` (`string(./os/kernel[1])`). Of a repeated single value
/// (`<name>`, `<uuid>`) the first is read, as `string(./name[1])` does.
pub fn parse_domain(input: &str) -> Result<Domain> {
    let mut root = xml::parse(input)?;
    root.merge_repeated("devices");
    root.merge_repeated("os");
    domain_from(&root)
}

fn domain_from(root: &Element) -> Result<Domain> {
    if root.name != "domain" {
        return Err(Error::domain(
            format!("<{}>", root.name),
            "the root element must be <domain>",
        ));
    }
    let type_str = root
        .attr("type")
        .ok_or_else(|| Error::domain("<domain>", "the type attribute is missing"))?;
    let virt_type = VirtType::from_name(type_str).ok_or_else(|| {
        Error::domain(
            "<domain type>",
            format!("unknown virtualization type {}", quote(type_str)),
        )
    })?;
    let id = match root.attr("id") {
        None => None,
        Some(s) => Some(s.trim().parse::<i64>().map_err(|_| {
            Error::domain("<domain id>", format!("{} is not an integer", quote(s)))
        })?),
    };

    let name = root
        .child("name")
        .map(Element::text)
        .ok_or_else(|| Error::domain("<name>", "missing"))?;
    check_name(name)?;

    let uuid_el = root
        .child("uuid")
        .ok_or_else(|| Error::domain("<uuid>", "missing"))?;
    let uuid = crate::name::parse_libvirt_uuid(uuid_el.text()).ok_or_else(|| {
        Error::domain(
            "<uuid>",
            format!("{} is not a valid UUID", quote(uuid_el.text())),
        )
    })?;

    let os = parse_os(root.child("os"))?;

    let mut d = Domain {
        virt_type,
        id,
        name: name.to_string(),
        uuid,
        os,
        disks: Vec::new(),
        chardevs: Vec::new(),
        graphics: Vec::new(),
        hostdevs: Vec::new(),
        filesystems: Vec::new(),
        inputs: Vec::new(),
        interfaces: Vec::new(),
        nvdimms: Vec::new(),
        fw_cfg_files: Vec::new(),
        shmems: Vec::new(),
        tpms: Vec::new(),
        smartcards: Vec::new(),
        others: Vec::new(),
        features: Vec::new(),
    };
    check_seclabels(root)?;
    if let Some(ls) = root.child("launchSecurity") {
        if matches!(ls.attr("type"), Some("sev" | "sev-snp")) {
            d.features.push(Feature::Sev);
        }
    }
    for sysinfo in root
        .children_named("sysinfo")
        .filter(|s| s.attr("type") == Some("fwcfg"))
    {
        for entry in sysinfo.children_named("entry") {
            if let Some(f) = entry.attr("file").filter(|f| !f.is_empty()) {
                d.fw_cfg_files.push(f.to_string());
            }
        }
    }
    let mut counters = [0usize; 4];
    let mut sgx = false;
    if let Some(devices) = root.child("devices") {
        for dev in &devices.children {
            match dev.name.as_str() {
                "disk" => d.disks.push(parse_disk(dev)?),
                "graphics" => d.graphics.push(parse_graphics(dev)),
                "hostdev" => {
                    if let Some(h) = parse_hostdev(dev)? {
                        d.hostdevs.push(h);
                    }
                }
                "filesystem" => {
                    if let Some(f) = parse_filesystem(dev) {
                        d.filesystems.push(f);
                    }
                }
                "input" => {
                    if matches!(dev.attr("type"), Some("evdev" | "passthrough")) {
                        if let Some(p) = dev
                            .child("source")
                            .and_then(|s| s.attr("evdev").or_else(|| s.attr("dev")))
                            .filter(|p| !p.is_empty())
                        {
                            d.inputs.push(p.to_string());
                        }
                    }
                }
                "interface" => {
                    // An SR-IOV interface is a PCI host device to libvirt (it is added to
                    // the domain's hostdevs when parsed).
                    let index = d.interfaces.len();
                    match dev.attr("type") {
                        Some("hostdev") => d
                            .hostdevs
                            .push(pci_hostdev(dev, "<interface type='hostdev'>")?),
                        Some("bridge") => d.features.push(Feature::BridgeHelper(index)),
                        Some("user")
                            if dev.child("backend").and_then(|b| b.attr("type"))
                                == Some("passt") =>
                        {
                            d.features.push(Feature::Passt(index))
                        }
                        _ => {}
                    }
                    d.interfaces.push(parse_interface(dev));
                }
                "memory" if dev.attr("model") == Some("virtio-pmem") => {
                    if let Some(p) = dev
                        .child("source")
                        .and_then(|s| s.child("path"))
                        .and_then(text_path)
                    {
                        push_other(&mut d, "memory virtio-pmem", p, Access::ReadWrite);
                    }
                }
                "memory" if dev.attr("model") == Some("sgx-epc") && !sgx => {
                    sgx = true;
                    d.features.push(Feature::Sgx);
                }
                "pstore" => {
                    if let Some(p) = dev.child("path").and_then(text_path) {
                        push_other(&mut d, "pstore", p, Access::ReadWrite);
                    }
                }
                "audio" if dev.attr("type") == Some("file") => {
                    if let Some(p) = dev.attr("path").filter(|p| !p.is_empty()) {
                        push_other(&mut d, "audio", p.to_string(), Access::Write);
                    }
                }
                "rng" => {
                    if let Some(b) = dev.child("backend") {
                        match b.attr("model") {
                            // /dev/random and /dev/urandom are in every profile already
                            // (abstractions/base).
                            Some("random") => {
                                if let Some(p) = text_path(b)
                                    .filter(|p| p != "/dev/random" && p != "/dev/urandom")
                                {
                                    push_other(&mut d, "rng", p, Access::Read);
                                }
                            }
                            Some("egd") => {
                                let kind = b.attr("type").unwrap_or("pty");
                                if PATH_CHARDEVS.contains(&kind) {
                                    if let Some(p) = b
                                        .children_named("source")
                                        .find_map(|s| s.attr("path"))
                                        .filter(|p| !p.is_empty())
                                    {
                                        push_other(&mut d, "rng", p.to_string(), Access::ReadWrite);
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                "redirdev" if dev.attr("type") == Some("unix") => {
                    if let Some(p) = dev
                        .children_named("source")
                        .find_map(|s| s.attr("path"))
                        .filter(|p| !p.is_empty())
                    {
                        push_other(&mut d, "redirdev", p.to_string(), Access::ReadWrite);
                    }
                }
                "memory" if dev.attr("model") == Some("nvdimm") => {
                    if let Some(p) = dev
                        .child("source")
                        .and_then(|s| s.child("path"))
                        .and_then(text_path)
                    {
                        d.nvdimms.push(p);
                    }
                }
                "shmem" => d.shmems.push(Shmem {
                    name: dev.attr("name").unwrap_or_default().to_string(),
                    model: dev
                        .child("model")
                        .and_then(|m| m.attr("type"))
                        .unwrap_or("ivshmem")
                        .to_string(),
                    server_path: dev
                        .child("server")
                        .and_then(|s| s.attr("path"))
                        .filter(|p| !p.is_empty())
                        .map(str::to_string),
                }),
                "tpm" => {
                    let backend = dev.child("backend");
                    if backend.and_then(|b| b.attr("type")) == Some("passthrough") {
                        if let Some(p) = backend
                            .and_then(|b| b.child("device"))
                            .and_then(|dv| dv.attr("path"))
                            .filter(|p| !p.is_empty())
                        {
                            d.features.push(Feature::TpmPassthrough(p.to_string()));
                        }
                    }
                    d.tpms.push(Tpm {
                        model: dev.attr("model").map(str::to_string),
                        backend: backend
                            .and_then(|b| b.attr("type"))
                            .unwrap_or("passthrough")
                            .to_string(),
                        version: backend.and_then(|b| b.attr("version")).map(str::to_string),
                    });
                }
                "smartcard" => d.smartcards.push(Smartcard {
                    mode: dev.attr("mode").unwrap_or_default().to_string(),
                    database: dev.child("database").and_then(text_path),
                }),
                "serial" | "console" | "parallel" | "channel" => {
                    let (class, slot) = match dev.name.as_str() {
                        "serial" => (ChardevClass::Serial, 0),
                        "console" => (ChardevClass::Console, 1),
                        "parallel" => (ChardevClass::Parallel, 2),
                        _ => (ChardevClass::Channel, 3),
                    };
                    let index = counters[slot];
                    counters[slot] += 1;
                    // QEMU writes the chardev log itself when libvirt's stdio handler is
                    // "file" (with virtlogd it gets a file descriptor instead).
                    if let Some(log) = dev
                        .child("log")
                        .and_then(|l| l.attr("file"))
                        .filter(|p| !p.is_empty())
                    {
                        d.others.push(OtherPath {
                            element: class.element(),
                            detail: format!("{index} log"),
                            path: log.to_string(),
                            access: Access::Write,
                        });
                    }
                    d.chardevs.push(parse_chardev(dev, class, index));
                }
                _ => {}
            }
        }
    }
    number_others(&mut d);
    Ok(d)
}

/// Records a path from an element libvirt 9.0's helper ignored; [`number_others`] numbers
/// it per element once all are read.
fn push_other(d: &mut Domain, element: &'static str, path: String, access: Access) {
    d.others.push(OtherPath {
        element,
        detail: String::new(),
        path,
        access,
    });
}

/// Numbers each entry of `others` pushed by [`push_other`] with the count of earlier
/// entries of the same element, in one pass (counting them at each push made parsing
/// quadratic in the number of devices).
fn number_others(d: &mut Domain) {
    let mut counts: HashMap<&'static str, usize> = HashMap::new();
    for o in &mut d.others {
        let count = counts.entry(o.element).or_default();
        if o.detail.is_empty() {
            o.detail = count.to_string();
        }
        *count += 1;
    }
}

/// A domain with a static AppArmor label keeps the profile its admin wrote: libvirtd never
/// runs the helper for it, and refusing makes a manual run say so instead of writing a
/// profile nobody loads. (`type='none'` is left alone, as libvirt's helper does.)
fn check_seclabels(root: &Element) -> Result<()> {
    for l in root.children_named("seclabel") {
        if l.attr("model").is_some_and(|m| m != "apparmor") {
            continue;
        }
        if l.attr("type") == Some("static") {
            return Err(Error::domain(
                "<seclabel type='static'>",
                "the domain has a static AppArmor label: nothing is generated for statically labelled domains (the admin's profile is used as is)",
            ));
        }
    }
    Ok(())
}

fn parse_graphics(dev: &Element) -> Graphics {
    let kind = dev.attr("type").unwrap_or_default().to_string();
    let gl = dev.child("gl");
    let mut sockets: Vec<String> = dev
        .children_named("listen")
        .filter(|l| l.attr("type") == Some("socket"))
        .filter_map(|l| l.attr("socket"))
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    // vnc's older spelling; libvirt turns it into a socket listen.
    if let Some(s) = dev.attr("socket").filter(|p| !p.is_empty()) {
        if !sockets.iter().any(|x| x == s) {
            sockets.insert(0, s.to_string());
        }
    }
    Graphics {
        gl: gl.and_then(|g| g.attr("enable")) == Some("yes") || dev.attr("gl") == Some("yes"),
        rendernode: gl
            .and_then(|g| g.attr("rendernode"))
            .or_else(|| dev.attr("rendernode"))
            .filter(|p| !p.is_empty())
            .map(str::to_string),
        sockets,
        xauth: (kind == "sdl")
            .then(|| dev.attr("xauth"))
            .flatten()
            .filter(|p| !p.is_empty())
            .map(str::to_string),
        kind,
    }
}

/// A number in libvirt's hostdev attributes, read like `strtoul(s, NULL, 0)`: `0x` hex,
/// a leading `0` octal, else decimal.
fn number(el: &Element, attr: &str, what: &str) -> Result<Option<u16>> {
    let Some(v) = el.attr(attr) else {
        return Ok(None);
    };
    let v = v.trim();
    let parsed = if let Some(hex) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        u16::from_str_radix(hex, 16)
    } else if v.len() > 1 && v.starts_with('0') {
        u16::from_str_radix(&v[1..], 8)
    } else {
        v.parse::<u16>()
    };
    parsed
        .map(Some)
        .map_err(|_| Error::domain(what, format!("{attr}={} is not a number", quote(v))))
}

fn parse_hostdev(dev: &Element) -> Result<Option<Hostdev>> {
    // mode='capabilities' devices are containers' and have no host file (libvirt 9.0 read
    // them through the wrong union member).
    if dev.attr("mode").unwrap_or("subsystem") != "subsystem" {
        return Ok(None);
    }
    let src = dev.child("source");
    let kind = dev.attr("type").unwrap_or_default();
    Ok(Some(match kind {
        "usb" => {
            let what = "<hostdev type='usb'>";
            let vendor = src.and_then(|s| s.child("vendor"));
            let product = src.and_then(|s| s.child("product"));
            let addr = src.and_then(|s| s.child("address"));
            Hostdev::Usb {
                vendor: vendor.map(|v| number(v, "id", what)).transpose()?.flatten(),
                product: product
                    .map(|v| number(v, "id", what))
                    .transpose()?
                    .flatten(),
                bus: addr.map(|a| number(a, "bus", what)).transpose()?.flatten(),
                device: addr
                    .map(|a| number(a, "device", what))
                    .transpose()?
                    .flatten(),
            }
        }
        "pci" => pci_hostdev(dev, "<hostdev type='pci'>")?,
        "mdev" => Hostdev::Mdev {
            uuid: src
                .and_then(|s| s.child("address"))
                .and_then(|a| a.attr("uuid"))
                .and_then(|u| uuid::Uuid::try_parse(u).ok()),
        },
        other => Hostdev::Other(other.to_string()),
    }))
}

/// A PCI device to assign: `<source><address domain bus slot function>` and the backend
/// `<driver name>` (VFIO when absent, as libvirt's default).
fn pci_hostdev(dev: &Element, what: &str) -> Result<Hostdev> {
    let address =
        pci_address(dev, what)?.ok_or_else(|| Error::domain(what, "missing <source><address>"))?;
    let driver = dev.child("driver").and_then(|d| d.attr("name"));
    Ok(Hostdev::Pci {
        address,
        vfio: matches!(driver, None | Some("vfio") | Some("default")),
    })
}

/// `<source><address domain bus slot function>` as `dddd:bb:ss.f`.
fn pci_address(dev: &Element, what: &str) -> Result<Option<String>> {
    let Some(a) = dev.child("source").and_then(|s| s.child("address")) else {
        return Ok(None);
    };
    let domain = number(a, "domain", what)?.unwrap_or(0);
    let bus = number(a, "bus", what)?.unwrap_or(0);
    let slot = number(a, "slot", what)?.unwrap_or(0);
    let function = number(a, "function", what)?.unwrap_or(0);
    if bus > 0xff || slot > 0x1f || function > 7 {
        return Err(Error::domain(what, "PCI address out of range"));
    }
    Ok(Some(format!(
        "{domain:04x}:{bus:02x}:{slot:02x}.{function:x}"
    )))
}

/// sVirt: `<seclabel model='apparmor' relabel='no'/>` on a source (or disk) means the
/// admin manages the file's access; libvirt then leaves it out of the profile.
fn relabel(el: &Element) -> bool {
    let labels = el.children_named("seclabel").chain(
        el.child("source")
            .into_iter()
            .flat_map(|s| s.children_named("seclabel")),
    );
    !labels
        .into_iter()
        .any(|l| l.attr("model").is_none_or(|m| m == "apparmor") && l.attr("relabel") == Some("no"))
}

fn parse_filesystem(dev: &Element) -> Option<Filesystem> {
    // libvirt 9.0: type mount (the default) with the path (default) driver only; virtiofs
    // runs virtiofsd outside this profile.
    if dev.attr("type").unwrap_or("mount") != "mount" {
        return None;
    }
    if !matches!(
        dev.child("driver").and_then(|d| d.attr("type")),
        None | Some("path")
    ) {
        return None;
    }
    let source = dev
        .child("source")
        .and_then(|s| s.attr("dir"))
        .filter(|p| !p.is_empty())?;
    Some(Filesystem {
        source: source.to_string(),
        readonly: dev.child("readonly").is_some(),
        target: dev
            .child("target")
            .and_then(|t| t.attr("dir"))
            .map(str::to_string),
    })
}

fn parse_interface(dev: &Element) -> Interface {
    let kind = dev.attr("type").unwrap_or_default().to_string();
    let vhostuser = (kind == "vhostuser")
        .then(|| dev.child("source"))
        .flatten()
        .and_then(|s| {
            let path = s.attr("path").filter(|p| !p.is_empty())?;
            Some((
                s.attr("type").unwrap_or("unix").to_string(),
                path.to_string(),
            ))
        });
    Interface {
        model: dev
            .child("model")
            .and_then(|m| m.attr("type"))
            .map(str::to_string),
        driver: dev
            .child("driver")
            .and_then(|m| m.attr("name"))
            .map(str::to_string),
        vhostuser,
        kind,
    }
}

/// libvirt refuses an empty name, a `/` (the name becomes a file name) and a newline.
/// Every other character is accepted and escaped when it lands in a rule; the C helper's
/// refusal of `[ ] { } ? ^ , " *` (`valid_name`) stopped such VMs from starting at all.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::domain("<name>", "empty"));
    }
    if name.contains('/') {
        return Err(Error::domain(
            "<name>",
            format!("{} contains '/'", quote(name)),
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(Error::domain(
            "<name>",
            format!(
                "{} contains the control character U+{:04X}",
                quote(name),
                c as u32
            ),
        ));
    }
    Ok(())
}

fn parse_os(os: Option<&Element>) -> Result<Os> {
    let os = os.ok_or_else(|| Error::domain("<os>", "missing"))?;
    let os_type = os
        .child("type")
        .map(|t| t.trimmed_text())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::domain("<os><type>", "missing"))?;
    if !OS_TYPES.contains(&os_type) {
        return Err(Error::domain(
            "<os><type>",
            format!("unknown OS type {}", quote(os_type)),
        ));
    }
    let text = |name: &str| os.child(name).and_then(text_path);
    let nvram = os.child("nvram").and_then(|n| {
        text_path(n).or_else(|| {
            n.child("source")
                .and_then(|s| s.attr("file"))
                .filter(|p| !p.is_empty())
                .map(str::to_string)
        })
    });
    let slic_table = acpi_table(os)?;
    let type_el = os.child("type");
    Ok(Os {
        os_type: os_type.to_string(),
        arch: type_el.and_then(|t| t.attr("arch")).map(str::to_string),
        machine: type_el.and_then(|t| t.attr("machine")).map(str::to_string),
        kernel: text("kernel"),
        initrd: text("initrd"),
        dtb: text("dtb"),
        slic_table,
        loader: text("loader"),
        nvram,
    })
}

/// The one ACPI table libvirt 9.0 accepts: `./os/acpi/table` across every `<acpi>`, more
/// than one refused, and only `type='slic'` (`virDomainDefParseBootAcpiOptions`), so a
/// second table is never silently dropped.
fn acpi_table(os: &Element) -> Result<Option<String>> {
    let mut tables = os
        .children_named("acpi")
        .flat_map(|a| a.children_named("table"));
    let Some(table) = tables.next() else {
        return Ok(None);
    };
    if tables.next().is_some() {
        return Err(Error::domain(
            "<os><acpi><table>",
            "only one ACPI table is supported",
        ));
    }
    match table.attr("type") {
        Some("slic") => Ok(text_path(table)),
        Some(other) => Err(Error::domain(
            "<os><acpi><table>",
            format!("unknown ACPI table type {}", quote(other)),
        )),
        None => Err(Error::domain(
            "<os><acpi><table>",
            "the type attribute is missing",
        )),
    }
}

/// Text content as a path, `None` when empty (libvirt treats an empty element as absent).
fn text_path(el: &Element) -> Option<String> {
    let t = el.trimmed_text();
    (!t.is_empty()).then(|| t.to_string())
}

fn parse_disk(disk: &Element) -> Result<Disk> {
    let target = disk
        .child("target")
        .and_then(|t| t.attr("dev"))
        .map(str::to_string);
    let what = match &target {
        Some(t) => format!("<disk> {}", quote(t)),
        None => "<disk>".to_string(),
    };
    let source = parse_source(disk, disk.attr("type").unwrap_or("file"), &what)?;
    let format = disk
        .child("driver")
        .and_then(|d| d.attr("type"))
        .map(str::to_string);
    let backing = parse_backing(disk, &what)?;
    let data_store = parse_data_store(disk, &what)?;
    Ok(Disk {
        data_store,
        relabel: relabel(disk),
        target,
        source,
        format,
        // libvirt forces CD-ROMs read-only (virDomainDiskDefPostParse).
        readonly: disk.child("readonly").is_some() || disk.attr("device") == Some("cdrom"),
        backing,
    })
}

/// The `<source>` of a disk or backing layer of the given storage type.
fn parse_source(el: &Element, storage_type: &str, what: &str) -> Result<Source> {
    if !DISK_TYPES.contains(&storage_type) {
        return Err(Error::domain(
            what,
            format!("unknown storage type {}", quote(storage_type)),
        ));
    }
    let src = el.child("source");
    let attr = match storage_type {
        "file" => "file",
        "block" => "dev",
        "dir" => "dir",
        "network" => {
            let sockets = src
                .into_iter()
                .flat_map(|s| s.children_named("host"))
                .filter(|h| h.attr("transport") == Some("unix"))
                .filter_map(|h| h.attr("socket"))
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect();
            return Ok(Source::Network { sockets });
        }
        "vhostuser" => {
            return Ok(
                match src.and_then(|s| s.attr("path")).filter(|p| !p.is_empty()) {
                    Some(p) => Source::VhostUser {
                        socket: p.to_string(),
                    },
                    None => Source::Empty,
                },
            )
        }
        "nvme" => {
            return Ok(match src {
                Some(_) => match pci_address(el, what)? {
                    Some(address) => Source::Nvme { address },
                    None => Source::Empty,
                },
                None => Source::Empty,
            })
        }
        "volume" => {
            let pool = src.and_then(|s| s.attr("pool")).unwrap_or_default();
            let volume = src.and_then(|s| s.attr("volume")).unwrap_or_default();
            if pool.is_empty() || volume.is_empty() {
                return Ok(Source::Empty);
            }
            for (what_attr, v) in [("pool", pool), ("volume", volume)] {
                if v.contains('/') || v == ".." || v == "." {
                    return Err(Error::domain(
                        what,
                        format!("{what_attr} {} is not a plain name", quote(v)),
                    ));
                }
            }
            return Ok(Source::Volume {
                pool: pool.to_string(),
                volume: volume.to_string(),
            });
        }
        other => {
            return Ok(Source::NotLocal {
                kind: other.to_string(),
            })
        }
    };
    let kind = match storage_type {
        "file" => LocalKind::File,
        "block" => LocalKind::Block,
        _ => LocalKind::Dir,
    };
    match el.child("source").and_then(|s| s.attr(attr)) {
        Some(p) if !p.is_empty() => Ok(Source::Local {
            kind,
            path: p.to_string(),
        }),
        _ => Ok(Source::Empty),
    }
}

/// `<source><dataStore type=...><format/><source .../></dataStore></source>` of a disk or
/// backing layer (libvirt >= 10.10, `formatdomain`: the qcow2 image's external data file).
fn parse_data_store(el: &Element, what: &str) -> Result<Option<Source>> {
    let Some(ds) = el.child("source").and_then(|s| s.child("dataStore")) else {
        return Ok(None);
    };
    let what = format!("{what} <dataStore>");
    parse_source(ds, ds.attr("type").unwrap_or("file"), &what).map(Some)
}

/// Reads a `<backingStore>` chain iteratively (it can be 200 layers deep).
fn parse_backing(disk: &Element, what: &str) -> Result<Backing> {
    let Some(mut bs) = disk.child("backingStore") else {
        return Ok(Backing::Discover);
    };
    let mut layers = Vec::new();
    loop {
        // An empty <backingStore/> terminates the chain.
        if bs.attr("type").is_none() && bs.child("source").is_none() {
            break;
        }
        let depth = layers.len() + 1;
        let layer_what = format!("{what} <backingStore> {depth}");
        let source = parse_source(bs, bs.attr("type").unwrap_or("file"), &layer_what)?;
        let format = bs
            .child("format")
            .and_then(|f| f.attr("type"))
            .map(str::to_string);
        layers.push(Layer {
            data_store: parse_data_store(bs, &layer_what)?,
            source,
            format,
            relabel: relabel(bs),
        });
        match bs.child("backingStore") {
            Some(next) => bs = next,
            None => break,
        }
    }
    if layers.is_empty() {
        Ok(Backing::None)
    } else {
        Ok(Backing::Explicit(layers))
    }
}

fn parse_chardev(dev: &Element, class: ChardevClass, index: usize) -> Chardev {
    // libvirt's default chardev type is pty.
    let kind = dev.attr("type").unwrap_or("pty").to_string();
    let path = if PATH_CHARDEVS.contains(&kind.as_str()) {
        dev.children_named("source")
            .find_map(|s| s.attr("path"))
            .filter(|p| !p.is_empty())
            .map(str::to_string)
    } else {
        None
    };
    Chardev {
        class,
        index,
        kind,
        path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dom(body: &str) -> String {
        format!(
            "<domain type='kvm'><name>vm</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
             <os><type arch='x86_64'>hvm</type></os><devices>{body}</devices></domain>"
        )
    }

    #[test]
    fn reads_disks_with_explicit_chains() {
        let d = parse_domain(&dom(
            "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
               <source file='/i/top.qcow2'/>\
               <backingStore type='file'><format type='qcow2'/><source file='/i/mid.qcow2'/>\
                 <backingStore type='block'><format type='raw'/><source dev='/dev/sdb'/><backingStore/></backingStore>\
               </backingStore><target dev='vda'/></disk>\
             <disk type='file' device='cdrom'><target dev='hdc'/><readonly/></disk>",
        ))
        .unwrap();
        assert_eq!(d.disks.len(), 2);
        let vda = &d.disks[0];
        assert_eq!(vda.target.as_deref(), Some("vda"));
        assert_eq!(vda.format.as_deref(), Some("qcow2"));
        match &vda.backing {
            Backing::Explicit(layers) => {
                assert_eq!(layers.len(), 2);
                assert_eq!(
                    layers[1].source,
                    Source::Local {
                        kind: LocalKind::Block,
                        path: "/dev/sdb".into()
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(d.disks[1].source, Source::Empty);
        assert!(d.disks[1].readonly);
        assert_eq!(d.disks[1].backing, Backing::Discover);
    }

    #[test]
    fn empty_backing_store_means_no_backing() {
        let d = parse_domain(&dom(
            "<disk type='file'><source file='/i/a.qcow2'/><backingStore/></disk>",
        ))
        .unwrap();
        assert_eq!(d.disks[0].backing, Backing::None);
    }

    #[test]
    fn chardevs_keep_their_class_and_index() {
        let d = parse_domain(&dom("<serial type='file'><source path='/l/s0'/></serial>\
             <serial type='tcp'><source mode='bind' host='h' service='1'/></serial>\
             <console type='pipe'><source path='/p/c'/></console>\
             <channel type='unix'><source mode='bind'/></channel>"))
        .unwrap();
        let got: Vec<_> = d
            .chardevs
            .iter()
            .map(|c| (c.class.element(), c.index, c.path.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("serial", 0, Some("/l/s0")),
                ("serial", 1, None),
                ("console", 0, Some("/p/c")),
                ("channel", 0, None)
            ]
        );
    }

    #[test]
    fn bad_domains_name_the_element() {
        let cases = [
            (
                "<domain><name>x</name></domain>",
                "<domain>: the type attribute is missing",
            ),
            (
                "<domain type='bogus'/>",
                "unknown virtualization type 'bogus'",
            ),
            ("<dom type='kvm'/>", "the root element must be <domain>"),
        ];
        for (xml, want) in cases {
            let e = parse_domain(xml).unwrap_err().to_string();
            assert!(e.contains(want), "{xml}: {e}");
        }
        let no_os = "<domain type='kvm'><name>v</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid></domain>";
        assert!(parse_domain(no_os)
            .unwrap_err()
            .to_string()
            .contains("<os>: missing"));
        let bad_uuid = dom("").replace("0123456789ab", "0123456789ag");
        assert!(parse_domain(&bad_uuid)
            .unwrap_err()
            .to_string()
            .contains("<uuid>"));
        let bad_os = dom("").replace(">hvm<", ">hvm_invalid<");
        assert!(parse_domain(&bad_os)
            .unwrap_err()
            .to_string()
            .contains("unknown OS type"));
        let slash = dom("").replace("<name>vm", "<name>v/m");
        assert!(parse_domain(&slash)
            .unwrap_err()
            .to_string()
            .contains("contains '/'"));
        let nl = dom("").replace("<name>vm", "<name>v&#10;m");
        assert!(parse_domain(&nl)
            .unwrap_err()
            .to_string()
            .contains("U+000A"));
    }

    #[test]
    fn names_with_pattern_characters_are_accepted() {
        for c in ["[", "]", "{", "}", "?", "^", ",", "\"", "*", "@", "\\", " "] {
            let xml = dom("").replace("<name>vm", &format!("<name>vm{}", c.replace('"', "&quot;")));
            let d = parse_domain(&xml).unwrap();
            assert_eq!(d.name, format!("vm{c}"));
        }
    }

    #[test]
    fn every_devices_element_is_read() {
        let xml =
            dom("<audio type='file' path='/a/0'/><disk type='file'><source file='/i/a'/></disk>")
                .replace(
                    "</devices>",
                    "</devices><memory>1</memory><devices><audio type='file' path='/a/1'/>\
                 <disk type='block'><source dev='/dev/b'/></disk></devices><devices/>",
                );
        let d = parse_domain(&xml).unwrap();
        let disks: Vec<_> = d.disks.iter().map(|k| k.source.clone()).collect();
        assert_eq!(
            disks,
            [
                Source::Local {
                    kind: LocalKind::File,
                    path: "/i/a".into()
                },
                Source::Local {
                    kind: LocalKind::Block,
                    path: "/dev/b".into()
                }
            ]
        );
        let audio: Vec<_> = d
            .others
            .iter()
            .map(|o| (o.detail.as_str(), o.path.as_str()))
            .collect();
        assert_eq!(audio, [("0", "/a/0"), ("1", "/a/1")]);
    }

    #[test]
    fn acpi_tables_are_read_as_libvirt_reads_them() {
        let with = |acpi: &str| dom("").replace("</os>", &format!("{acpi}</os>"));
        let d = parse_domain(&with("<acpi/><acpi><table type='slic'>/s</table></acpi>")).unwrap();
        assert_eq!(d.os.slic_table.as_deref(), Some("/s"));
        for (acpi, want) in [
            (
                "<acpi><table type='slic'>/s</table></acpi><acpi><table type='slic'>/t</table></acpi>",
                "only one ACPI table",
            ),
            (
                "<acpi><table type='msdm'>/m</table><table type='slic'>/s</table></acpi>",
                "only one ACPI table",
            ),
            ("<acpi><table type='msdm'>/m</table></acpi>", "unknown ACPI table type 'msdm'"),
            ("<acpi><table>/m</table></acpi>", "type attribute is missing"),
        ] {
            let e = parse_domain(&with(acpi)).unwrap_err().to_string();
            assert!(e.contains(want), "{acpi}: {e}");
        }
        // Across every <os>, too.
        let two_os = dom("").replace(
            "</os>",
            "<acpi><table type='slic'>/s</table></acpi></os><os><acpi><table type='slic'>/t</table></acpi></os>",
        );
        assert!(parse_domain(&two_os).is_err());
    }

    #[test]
    fn repeated_os_reads_the_first_of_each_element() {
        let xml = dom("").replace(
            "</os>",
            "<kernel>/k1</kernel></os><os><type>xen</type><kernel>/k2</kernel><initrd>/i2</initrd></os>",
        );
        let d = parse_domain(&xml).unwrap();
        assert_eq!(d.os.os_type, "hvm");
        assert_eq!(d.os.kernel.as_deref(), Some("/k1"));
        assert_eq!(d.os.initrd.as_deref(), Some("/i2"));
    }

    #[test]
    fn name_and_uuid_are_read_as_libvirt_reads_them() {
        // The first <name> and <uuid> in no namespace, with the text of their descendants.
        let xml = dom("")
            .replace(
                "<name>vm</name>",
                "<name xmlns='http://evil'>other</name><name>v<b>m</b><x:n xmlns:x='u'>2</x:n></name><name>other</name>",
            )
            .replace(
                "<uuid>00000000-0000-0000-0000-0123456789ab</uuid>",
                "<x:uuid xmlns:x='u'>11111111-1111-1111-1111-111111111111</x:uuid>\
                 <uuid> 00 00-0000-0000-0000--0000-0123456789AB\n</uuid>\
                 <uuid>22222222-2222-2222-2222-222222222222</uuid>",
            );
        let d = parse_domain(&xml).unwrap();
        assert_eq!(d.name, "vm2");
        assert_eq!(
            d.uuid.hyphenated().to_string(),
            "00000000-0000-0000-0000-0123456789ab"
        );
        for bad in [
            "{00000000-0000-0000-0000-0123456789ab}",
            "urn:uuid:00000000-0000-0000-0000-0123456789ab",
        ] {
            let xml = dom("").replace("00000000-0000-0000-0000-0123456789ab", bad);
            let e = parse_domain(&xml).unwrap_err().to_string();
            assert!(e.contains("is not a valid UUID"), "{e}");
        }
    }

    #[test]
    fn foreign_devices_are_not_devices() {
        let d = parse_domain(&dom(
            "<x:disk xmlns:x='http://example.org/' type='file'><source file='/x'/></x:disk>\
             <disk xmlns='http://evil' type='file'><source file='/y'/></disk>\
             <audio type='file' path='/a'><disk type='file'><source file='/z'/></disk></audio>",
        ))
        .unwrap();
        assert!(d.disks.is_empty(), "{:?}", d.disks);
        assert_eq!(d.others.len(), 1);
    }

    #[test]
    fn os_boot_files() {
        let xml = "<domain type='kvm' id='7'><name>v</name><uuid>00000000000000000000000123456789ab</uuid>\
            <os><type>hvm</type><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>\
            <nvram>/var/lib/libvirt/qemu/nvram/v_VARS.fd</nvram><kernel>/k</kernel><initrd> </initrd>\
            <acpi><table type='slic'>/s</table></acpi></os></domain>";
        // 34 hex digits is not a UUID
        assert!(parse_domain(xml).is_err());
        let xml = xml.replace(
            "00000000000000000000000123456789ab",
            "000000000000000000000123456789ab",
        );
        let d = parse_domain(&xml).unwrap();
        assert_eq!(d.id, Some(7));
        assert_eq!(d.os.loader.as_deref(), Some("/usr/share/OVMF/OVMF_CODE.fd"));
        assert_eq!(
            d.os.nvram.as_deref(),
            Some("/var/lib/libvirt/qemu/nvram/v_VARS.fd")
        );
        assert_eq!(d.os.kernel.as_deref(), Some("/k"));
        assert_eq!(d.os.initrd, None);
        assert_eq!(d.os.slic_table.as_deref(), Some("/s"));
    }
}
