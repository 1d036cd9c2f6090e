//! The parser's compiled expression tree (`-D rule-exprs`, the text after `->` on a `rule:`
//! line), read back so that a test can ask what it matches: apparmor_parser cannot be asked
//! to match, and the tree is what it hands to the DFA builder. Its dialect: bytes, `\c`
//! and `\xH`/`\xHH` escapes, `[...]` and `[^...]` classes listing every member, `[]` for
//! the empty string, `.` for any byte (a literal `.` is `\.`), `(a|b)` and a postfix `*`:
//! the same in AppArmor 3.x, 4.1 and 5.0 (only the fields after the tree differ, see
//! [`rule_trees`]). A backslash is printed bare, so a tree with a literal `\` cannot be read
//! back reliably (`\(` is `(`, or a backslash before a group): callers keep backslashes out
//! of the rules they read (not out of the paths they match).
pub enum Node {
    Byte(u8),
    Class(bool, Vec<u8>),
    Alt(Vec<Vec<Node>>),
    Star(Box<Node>),
    Empty,
    Any,
}

fn escaped(s: &[u8], i: &mut usize) -> u8 {
    let c = s[*i];
    *i += 1;
    if c != b'x' {
        return c;
    }
    // \x0 ... \xff: the printer writes no leading zero; bytes 1..15 (control
    // characters) never occur here, so two hex digits are one byte when they are there.
    let hex = |b: u8| (b as char).to_digit(16);
    let mut v = hex(s[*i]).expect("hex digit") as u8;
    *i += 1;
    if v != 0 {
        if let Some(d) = s.get(*i).and_then(|b| hex(*b)) {
            v = v * 16 + d as u8;
            *i += 1;
        }
    }
    v
}

fn alt(s: &[u8], i: &mut usize) -> Vec<Vec<Node>> {
    let mut alts = vec![seq(s, i)];
    while s.get(*i) == Some(&b'|') {
        *i += 1;
        alts.push(seq(s, i));
    }
    alts
}

fn seq(s: &[u8], i: &mut usize) -> Vec<Node> {
    let mut out = Vec::new();
    while let Some(&c) = s.get(*i) {
        let node = match c {
            b'|' | b')' => break,
            b'(' => {
                *i += 1;
                let a = alt(s, i);
                assert_eq!(s[*i], b')');
                *i += 1;
                Node::Alt(a)
            }
            b'[' if s.get(*i + 1) == Some(&b']') => {
                *i += 2;
                Node::Empty
            }
            b'[' => {
                *i += 1;
                let neg = s[*i] == b'^';
                if neg {
                    *i += 1;
                }
                let mut set = Vec::new();
                while s[*i] != b']' {
                    if s[*i] == b'\\' {
                        *i += 1;
                        set.push(escaped(s, i));
                    } else {
                        set.push(s[*i]);
                        *i += 1;
                    }
                }
                *i += 1;
                Node::Class(neg, set)
            }
            b'\\' => {
                *i += 1;
                Node::Byte(escaped(s, i))
            }
            b'.' => {
                *i += 1;
                Node::Any
            }
            c => {
                *i += 1;
                Node::Byte(c)
            }
        };
        if s.get(*i) == Some(&b'*') {
            *i += 1;
            out.push(Node::Star(Box::new(node)));
        } else {
            out.push(node);
        }
    }
    out
}

pub fn parse(s: &[u8]) -> Vec<Node> {
    let mut i = 0;
    let a = alt(s, &mut i);
    assert_eq!(
        i,
        s.len(),
        "unparsed: {:?} of {:?}",
        String::from_utf8_lossy(&s[i..]),
        String::from_utf8_lossy(s)
    );
    vec![Node::Alt(a)]
}

/// The end positions of the matches of `nodes` starting at each of `from` in `input`.
fn ends(nodes: &[Node], input: &[u8], from: Vec<usize>) -> Vec<usize> {
    let mut cur = from;
    for n in nodes {
        let mut next = Vec::new();
        for &p in &cur {
            next.extend(step(n, input, p));
        }
        next.sort_unstable();
        next.dedup();
        cur = next;
        if cur.is_empty() {
            break;
        }
    }
    cur
}

fn step(n: &Node, input: &[u8], p: usize) -> Vec<usize> {
    match n {
        Node::Byte(b) => (input.get(p) == Some(b))
            .then_some(p + 1)
            .into_iter()
            .collect(),
        Node::Class(neg, set) => input
            .get(p)
            .filter(|c| set.contains(c) != *neg)
            .map(|_| p + 1)
            .into_iter()
            .collect(),
        Node::Empty => vec![p],
        Node::Any => (p < input.len()).then_some(p + 1).into_iter().collect(),
        Node::Alt(alts) => alts.iter().flat_map(|a| ends(a, input, vec![p])).collect(),
        Node::Star(inner) => {
            let mut all = vec![p];
            let mut frontier = vec![p];
            while !frontier.is_empty() {
                let mut new = Vec::new();
                for q in frontier {
                    for e in step(inner, input, q) {
                        if !all.contains(&e) {
                            all.push(e);
                            new.push(e);
                        }
                    }
                }
                frontier = new;
            }
            all
        }
    }
}

pub fn matches(nodes: &[Node], input: &[u8]) -> bool {
    ends(nodes, input, vec![0]).contains(&input.len())
}

/// The compiled tree of every file rule of `profile` (`-D rule-exprs`), with whether it is a
/// deny rule: the bytes after `->` on each `rule:` line, without what follows the tree.
pub fn rule_trees(policy_dir: &std::path::Path, profile: &std::path::Path) -> Vec<(Vec<u8>, bool)> {
    let text = super::rule_exprs_output(policy_dir, profile);
    let rules: Vec<_> = text
        .split(|b| *b == b'\n')
        .filter(|l| l.starts_with(b"rule: "))
        .map(rule_line)
        .collect();
    // One parser, one dialect: every line has the priority field (4.1 and later) or none.
    let with = rules.iter().filter(|r| r.priority.is_some()).count();
    assert!(
        with == 0 || with == rules.len(),
        "{with} of {} rule: lines carry a priority: neither 3.x's dialect nor 4.1's",
        rules.len()
    );
    rules.into_iter().map(|r| (r.tree, r.deny)).collect()
}

/// One `rule:` line of `-D rule-exprs`, read back.
struct RuleLine {
    tree: Vec<u8>,
    deny: bool,
    priority: Option<i64>,
}

/// Reads `rule: REGEX  ->  TREE[ priority=N][ deny] (0xPERMS/0xAUDIT)< ACCEPT>`. AppArmor
/// 3.x prints no priority; 4.1 and 5.0 print ` priority=N` on every line (also `prompt`
/// instead of `deny` for a prompt rule). The tree escapes every space it matches (`\ `, in a
/// class too), so a space after anything but a backslash separates the fields (backslashes
/// are kept out of the rules read, see the module's note). A rule these tests cannot model
/// (a priority other than 0, where a deny no longer simply beats an allow, or a prompt rule)
/// fails the test rather than being read as something else.
fn rule_line(l: &[u8]) -> RuleLine {
    let show = || String::from_utf8_lossy(l).into_owned();
    let at = l
        .windows(6)
        .position(|w| w == b"  ->  ")
        .unwrap_or_else(|| panic!("no `  ->  ` in {:?}", show()));
    let t = &l[at + 6..];
    let end = t
        .windows(4)
        .rposition(|w| w == b" (0x")
        .unwrap_or_else(|| panic!("no permissions in {:?}", show()));
    let mut t = &t[..end];
    // The last field, if it is one (a space not escaped before it) and `ok` accepts it.
    let mut field = |ok: &dyn Fn(&[u8]) -> bool| -> Option<Vec<u8>> {
        let sp = t.iter().rposition(|b| *b == b' ')?;
        if sp == 0 || t[sp - 1] == b'\\' || !ok(&t[sp + 1..]) {
            return None;
        }
        let f = t[sp + 1..].to_vec();
        t = &t[..sp];
        Some(f)
    };
    let mode = field(&|f| f == b"deny" || f == b"prompt");
    assert!(
        mode.as_deref() != Some(b"prompt"),
        "a prompt rule: neither allowed nor denied: {:?}",
        show()
    );
    let priority = field(&|f| f.starts_with(b"priority=")).map(|f| {
        std::str::from_utf8(&f[9..])
            .ok()
            .and_then(|n| n.parse::<i64>().ok())
            .unwrap_or_else(|| panic!("bad priority in {:?}", show()))
    });
    assert!(
        priority.unwrap_or(0) == 0,
        "a rule of priority {priority:?}: these tests model only priority 0: {:?}",
        show()
    );
    assert!(
        !t.iter()
            .enumerate()
            .any(|(i, b)| *b == b' ' && (i == 0 || t[i - 1] != b'\\')),
        "unread fields after the tree in {:?}",
        show()
    );
    RuleLine {
        tree: t.to_vec(),
        deny: mode.is_some(),
        priority,
    }
}
