#!/usr/bin/env python3
"""Writes the hand-written seeds, fuzz/corpus/<target>/seed-*, one per directive, quirk and
argv form. Idempotent: run it again after `cargo fuzz cmin`, which renames what it keeps.

acl inputs: files separated by "\\n%%\\n"; file 0 is /etc/qemu/bridge.conf, then /i1, /i2, /i3
(see props.rs). cli inputs: argv after argv[0], NUL-separated.
"""

import os
import sys

SEP = b"\n%%\n"


def acl(*files):
    return SEP.join(f.encode() if isinstance(f, str) else f for f in files)


ACL = {
    "empty": acl(""),
    "allow": acl("allow br0\n"),
    "allow-all": acl("allow all\n"),
    "deny-wins": acl("allow all\ndeny br0\n"),
    "deny-all": acl("allow br0\ndeny all\n"),
    "allow-no-newline": acl("allow br0"),
    "two-spaces": acl("allow  br0\ndeny   br1\n"),
    "managed": acl("allow br0\nmanaged br0\n"),
    "managed-all": acl("allow all\nmanaged all\n"),
    "managed-no-allow": acl("managed br0\nlocked br1\n"),
    "locked": acl("allow br0\nlocked br0\nmac br0 52:54:00:12:34:56\n"),
    "mac-forms": acl(
        "allow all\nmanaged all\nmac br0 user=alice 52:54:00:*\nmac br0 group=lab 02:*\n"
        "mac all none\nmac br1 52:54:00:12:34:*\nmac all  \t 02:00:00:00:00:01\n"
    ),
    "mac-none": acl("allow br0\nmanaged br0\nmac br0 none\n"),
    "mac-bad": acl("allow br0\nmanaged br0\nmac br0 user= 52:*\n"),
    "mac-bad-forms": acl(
        "allow all\ninclude /i1\ninclude /i2\ninclude /i3\n",
        "mac br0 52:54:00\n",
        "mac br0 01:*\nmac br0 *\nmac br0 uid=1000 52:*\n",
        "mac sixteen-bytes-xx 52:*\nmac br/0 52:*\nmac br0 52:54:00:12:34:56:*\nmac br0 \xff\n",
    ),
    "mac-vtab": acl("allow br0\nmanaged br0\nmac br0\x0b52:54:00:*\n"),
    "vlan-forms": acl(
        "allow all\nvlan br0 101\nvlan br0 user=alice 101-110\nvlan all group=lab 5,7-9\n"
        "vlan br1 none\nvlan-default br0 user=#1000 101\nvlan-default all group=#200 4094\n"
    ),
    "vlan-defaults": acl(
        "allow br0\nmanaged br0\nvlan-default br0 1\nvlan-default br0 group=lab 2\n"
        "vlan-default br0 group=#200 3\nvlan-default all user=alice 4\n"
    ),
    "vlan-include": acl("allow all\nvlan br0 none\ninclude /i1\ninclude /denied\n", "vlan-default br0 101\n"),
    "vlan-bad-forms": acl(
        "allow all\ninclude /i1\ninclude /i2\ninclude /i3\n",
        "vlan br0 0\n",
        "vlan br0 110-101\nvlan br0 101,\nvlan-default br0 1-2\n",
        "vlan br0 4095\nvlan br0 user= 1\nvlan br0 101 # x\nvlan-default br0 none\n",
    ),
    "comments": acl("# comment\n   # indented comment\n\t# tabbed\n#allow br1\n\nallow br0\n"),
    "leading-whitespace": acl("   allow br0\n\t\tdeny br1\n \t managed br0\n"),
    "tabs": acl("allow\tbr0\ndeny\t \tbr1\nmanaged\tbr0\t\n"),
    "tabs-only": acl("allow\tbr0\nmanaged\tbr0\t\ninclude\t/i1\n", "deny\tbr1\n"),
    "crlf": acl("allow br0\r\ndeny br1\r\n# comment\r\n\r\n"),
    "vtab-formfeed": acl("\x0b\x0callow br0\x0b\x0c\n"),
    "trailing-comment": acl("allow all\ndeny br0 # why\n"),
    "trailing-comment-allow": acl("allow br0 #x\n"),
    "trailing-long-comment": acl("allow all\ndeny br0 # incident 1234\n"),
    "trailing-long-comment-include": acl(
        "allow all\ninclude /i1\n", "deny br0 # incident 1234, see ticket\ndeny br1\n"
    ),
    "long-names": acl("allow fifteen-bytes-x\nallow sixteen-bytes-xx\n"),
    "long-name-include": acl("allow all\ninclude /i1\n", "allow fifteen-bytes-x\ndeny sixteen-bytes-xx\ndeny br0\n"),
    "bad-names": acl("allow br/0\n"),
    "bad-names-include": acl(
        "allow all\ninclude /i1\ninclude /i2\ninclude /i3\n", "allow br:0\n", "allow ..\n", "allow .\n"
    ),
    "dots": acl("allow ...\nallow br#0\nallow virbr-\u00fcn\u00ef\n"),
    "non-utf8-name": acl(b"allow br\xff\n"),
    "control-name": acl("allow br\x1b[2J\n"),
    "name-with-space": acl("allow br0 br1\n"),
    "no-argument": acl("allow\n"),
    "no-argument-spaces": acl("allow   \n"),
    "no-argument-include": acl("allow all\ninclude /i1\n", "deny\ndeny br0\n"),
    "unknown-directive": acl("permit br0\n"),
    "unknown-directive-include": acl("allow all\ninclude /i1\n", "# ours\npermit br0\ndeny br0\n"),
    "unknown-long-directive": acl("frobnicate sixteen-bytes-xx\n"),
    "include": acl("include /i1\n", "allow br0\n"),
    "include-all-files": acl(
        "include /i1\ninclude /i2\ninclude /i3\n",
        "allow br0\nmanaged br0\n",
        "allow br1\nmac br0 52:54:00:*\n",
        "deny br1\nlocked br0\n",
    ),
    "include-chain": acl("include /i1\n", "include /i2\n", "include /i3\n", "allow br0\n"),
    "include-deny": acl("allow all\ninclude /i1\n", "# c\n\ndeny br0\n"),
    "include-then-deny": acl("include /i1\ndeny br0\n", "allow all\nbogus\n"),
    "include-tab": acl("include\t/i1\n", "allow br0\n"),
    "include-trailing-space": acl("include /i1   \t\r\n", "allow br0\n"),
    "include-no-argument": acl("include\n"),
    "include-twice": acl("include /i1\ninclude /i1\n", "allow br0\n"),
    "relative-include": acl("include etc/qemu/x.conf\n"),
    "relative-include-nested": acl("allow all\ninclude /i1\n", "include i2\n"),
    "self-include": acl("allow br0\ninclude /etc/qemu/bridge.conf\n"),
    "self-include-nested": acl("include /i1\n", "include /i1\n"),
    "cycle": acl("include /i1\n", "include /i2\n", "include /i1\n"),
    "cycle-to-top": acl("allow br0\ninclude /i1\n", "include /etc/qemu/bridge.conf\n"),
    "cycle-dotdot": acl("include /i1\n", "include /x/../i1\n"),
    "dotdot-include": acl("include /etc/../i1\ninclude //i2\ninclude /./i3\n", "allow br0\n", "deny br1\n", "managed br0\n"),
    "deep": acl("allow all\ninclude /deep/0\n"),
    "deep-from-include": acl("allow all\ninclude /i1\n", "include /deep/3\n"),
    "denied-include": acl("include /denied\nallow br0\n"),
    "untrusted-include": acl("allow br0\ninclude /untrusted\n"),
    "untrusted-nested": acl("allow br0\ninclude /i1\n", "include /untrusted\n"),
    "missing-include": acl("include /nonexistent\nallow br0\n"),
    "nul": acl(b"allow br0\x00\n"),
    "nul-include": acl("allow all\ninclude /i1\n", b"deny br0\x00\n"),
    "overlong-line": acl("allow " + " " * 4100 + "br0\n"),
    "overlong-comment-include": acl("allow all\ninclude /i1\n", "#" + "x" * 4095 + "\ndeny br0\n"),
    "line-4095": acl("allow " + " " * 4086 + "br0\n"),
    "only-separators": SEP * 4,
}

CLI = {
    "empty": b"",
    "qemu": b"--use-vnet\0--fd=3\0--br=br0",
    "no-vnet": b"--br=br0\0--fd=17",
    "mac": b"--mac=52:54:00:12:34:56\0--use-vnet\0--fd=5\0--br=br0",
    "mac-upper": b"--br=br0\0--fd=5\0--mac=52:54:00:AB:cd:EF",
    "help": b"--help",
    "help-short": b"-h",
    "version": b"--version",
    "version-short": b"-V",
    "help-not-alone": b"--help\0--fd=3",
    "version-not-alone": b"--fd=3\0--br=br0\0--version",
    "help-twice": b"-h\0-h",
    "empty-arg": b"\0",
    "only-br": b"--br=br0",
    "only-fd": b"--fd=3",
    "dup-br": b"--br=br0\0--br=br1\0--fd=3",
    "dup-fd": b"--br=br0\0--fd=3\0--fd=3",
    "dup-vnet": b"--br=br0\0--fd=3\0--use-vnet\0--use-vnet",
    "dup-mac": b"--br=br0\0--fd=3\0--mac=52:54:00:12:34:56\0--mac=52:54:00:12:34:57",
    "br-separate": b"--br\0br0\0--fd=3",
    "unknown": b"--br=br0\0--fd=3\0--foo",
    "trailing-empty": b"--br=br0\0--fd=3\0",
    "vnet-value": b"--use-vnet=1\0--br=br0\0--fd=3",
    "fd-alpha": b"--br=br0\0--fd=abc",
    "fd-negative": b"--br=br0\0--fd=-1",
    "fd-plus": b"--br=br0\0--fd=+3",
    "fd-space": b"--br=br0\0--fd= 3",
    "fd-empty": b"--br=br0\0--fd=",
    "fd-huge": b"--br=br0\0--fd=99999999999",
    "fd-max": b"--br=br0\0--fd=2147483647",
    "fd-max-plus-one": b"--br=br0\0--fd=2147483648",
    "fd-zero": b"--br=br0\0--fd=0",
    "fd-leading-zeros": b"--br=br0\0--fd=0000000000007",
    "fd-hex": b"--br=br0\0--fd=0x3",
    "fd-arabic-digit": "--br=br0\0--fd=\u0663".encode(),
    "br-empty": b"--br=\0--fd=3",
    "br-16": b"--br=sixteen-bytes-xx\0--fd=3",
    "br-15": b"--br=fifteen-bytes-x\0--fd=3",
    "br-slash": b"--br=../x\0--fd=3",
    "br-dotdot": b"--br=..\0--fd=3",
    "br-dot": b"--br=.\0--fd=3",
    "br-colon": b"--br=br0:1\0--fd=3",
    "br-unicode": "--br=virbr-\u00fcn\u00ef\0--fd=3".encode(),
    "br-non-utf8": b"--br=br\xff\0--fd=3",
    "br-non-utf8-5": b"--br=\xff\xfe\xfd\xfc\xfb\0--fd=3",
    "br-non-utf8-6": b"--br=\xff\xfe\xfd\xfc\xfb\xfa\0--fd=3",
    "br-control": b"--br=br\x1b[2J\0--fd=3",
    "br-newline": b"--br=br0\n\0--fd=3",
    "vlan": b"--use-vnet\0--br=br0\0--fd=3\0--mac=52:54:00:12:34:56\0--vlan=101",
    "vlan-forms": b"--br=br0\0--fd=3\0--vlan=0101",
    "vlan-zero": b"--br=br0\0--fd=3\0--vlan=0",
    "vlan-4095": b"--br=br0\0--fd=3\0--vlan=4095",
    "vlan-range": b"--br=br0\0--fd=3\0--vlan=101-102",
    "vlan-empty": b"--br=br0\0--fd=3\0--vlan=",
    "vlan-separate": b"--br=br0\0--fd=3\0--vlan\0101",
    "dup-vlan": b"--br=br0\0--fd=3\0--vlan=5\0--vlan=5",
    "mac-broadcast": b"--br=br0\0--fd=3\0--mac=ff:ff:ff:ff:ff:ff",
    "mac-empty": b"--br=br0\0--fd=3\0--mac=",
    "mac-zero": b"--br=br0\0--fd=3\0--mac=00:00:00:00:00:00",
    "mac-dashes": b"--br=br0\0--fd=3\0--mac=52-54-00-12-34-56",
    "mac-short": b"--br=br0\0--fd=3\0--mac=52:54:00:12:34",
    "mac-non-utf8": b"--br=br0\0--fd=3\0--mac=52:54:00:12:34:\xff",
    "garbage-control": b"--br=br0\0--fd=3\0--x\x1b[2J\n",
    "garbage-c1": "--br=br0\0--fd=3\0--x\u009b2J\u202e".encode(),
    "garbage-non-utf8": b"\xff\xfe",
    "garbage-single-dash": b"-br=br0\0-fd=3",
    "claim": b"--claim=tap0\0--mac=52:54:00:12:34:56",
    "claim-reversed": b"--mac=52:54:00:12:34:56\0--claim=tap0",
    "claim-with-fd": b"--claim=tap0\0--mac=52:54:00:12:34:56\0--fd=3",
    "claim-no-mac": b"--claim=tap0",
    "claim-twice": b"--claim=tap0\0--claim=tap1\0--mac=52:54:00:12:34:56",
}


def write(target, seeds):
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "corpus", target)
    os.makedirs(out, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit("usage: fuzz/seeds.py")
    write("acl", ACL)
    write("cli", CLI)
