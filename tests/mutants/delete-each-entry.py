#!/usr/bin/env python3
"""Hand mutation of the restricted-path tables (issue 9 class 7).

cargo-mutants does not delete entries from a list, so this does: for each entry of
RESTRICTED and SHARED in src/policy.rs, in a scratch clone of this checkout, delete it and
run tests/must_refuse.rs (its own hand-typed list) and the policy unit tests. Every
deletion must make one of them fail. Takes 20 to 40 minutes on 2 cores; not run in CI.

    tests/mutants/delete-each-entry.py [SCRATCH_DIR]
"""
import pathlib, re, shutil, subprocess, sys

repo = pathlib.Path(__file__).resolve().parents[2]
work = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/vah-delete-each-entry")
shutil.rmtree(work, ignore_errors=True)
subprocess.run(["git", "clone", "-q", str(repo), str(work)], check=True)
policy = work / "src/policy.rs"
orig = policy.read_text()

def entries(name):
    start = orig.index(f"const {name}: &[&str] = &[")
    end = orig.index("];", start)
    for m in re.finditer(r'^\s*"([^"]+)",\n', orig[start:end], re.M):
        yield start + m.start(), start + m.end(), m.group(1)

def fails(*args):
    return subprocess.run(["cargo", "test", "-q", *args], cwd=work,
                          capture_output=True).returncode != 0

unpinned = []
total = 0
for table in ["RESTRICTED", "SHARED"]:
    for a, b, entry in entries(table):
        total += 1
        policy.write_text(orig[:a] + orig[b:])
        if fails("--test", "must_refuse"):
            how = "tests/must_refuse.rs fails"
        elif fails("--lib", "policy::"):
            how = "only the policy unit tests fail"
        else:
            how = "NOTHING FAILS"
            unpinned.append(entry)
        print(f"{table} {entry}: {how}", flush=True)
policy.write_text(orig)
print(f"{total - len(unpinned)} of {total} deletions are caught")
sys.exit(1 if unpinned else 0)
