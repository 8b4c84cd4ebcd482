use super::*;

#[test]
fn table() {
    let full = Fields {
        uid: 1000,
        user: Some("alice".into()),
        bridge: Some(IfName::new("br0").unwrap()),
        mac: Some(MacAddr::parse("52:54:00:12:34:56").unwrap()),
        mode: Some(Mode::Managed),
        tap: Some(IfName::new("tap3").unwrap()),
        vlan: None,
    };
    let in_vlan = Fields {
        vlan: Some(crate::vid::Vid::new(101).unwrap()),
        mode: Some(Mode::Plain),
        ..Fields::default()
    };
    let early = Fields {
        uid: 1001,
        user: Some("bo\nb".into()),
        ..Fields::default()
    };
    let pending = Fields {
        mode: Some(Mode::Pending),
        mac: None,
        ..full.clone()
    };
    let claim = Fields {
        mode: Some(Mode::Claim),
        ..full.clone()
    };
    let cases: &[(&Fields, Option<&str>, &str)] = &[
        (
            &pending,
            None,
            "uid=1000 user=alice bridge=br0 tap=tap3 mac=- mode=managed-pending verdict=granted",
        ),
        (
            &claim,
            None,
            "uid=1000 user=alice bridge=br0 tap=tap3 mac=52:54:00:12:34:56 mode=managed-claim verdict=granted",
        ),
        (
            &full,
            None,
            "uid=1000 user=alice bridge=br0 tap=tap3 mac=52:54:00:12:34:56 mode=managed verdict=granted",
        ),
        (
            &full,
            Some("failed to authorize bridge br0: access denied by acl file"),
            "uid=1000 user=alice bridge=br0 tap=tap3 mac=52:54:00:12:34:56 mode=managed verdict=refused \
             reason=\"failed to authorize bridge br0: access denied by acl file\"",
        ),
        (
            &in_vlan,
            None,
            "uid=0 user=? bridge=- tap=- mac=- mode=plain vlan=101 verdict=granted",
        ),
        (
            &early,
            Some("unknown argument \"--x\u{1b}[2J\nuid=0\""),
            "uid=1001 user=bo\\nb bridge=- tap=- mac=- mode=- verdict=refused \
             reason=\"unknown argument \\\"--x\\u{1b}[2J\\nuid=0\\\"\"",
        ),
    ];
    for (fields, refusal, want) in cases {
        let got = line(fields, *refusal);
        assert_eq!(got, *want);
        assert!(got.chars().all(crate::text::is_printable), "{got:?}");
    }
}

#[test]
fn lines_are_bounded_and_printable_whatever_the_input() {
    let fields = Fields {
        uid: 1000,
        user: Some(format!("al\u{202e}ice{}", "\u{200b}".repeat(5000))),
        ..Fields::default()
    };
    let huge = format!(
        "unknown argument \"{}\"",
        "\u{2066}x\u{feff}\u{85}\u{2028}".repeat(30_000)
    );
    let got = line(&fields, Some(&huge));
    assert!(got.len() <= MAX_LINE + 40, "{}", got.len());
    assert!(got.chars().all(crate::text::is_printable), "{got:?}");
    assert!(got.starts_with("uid=1000 user=al\\u{202e}ice\\u{200b}"), "{got}");
    assert!(
        got.contains(" verdict=refused reason=\"unknown argument"),
        "{got}"
    );
}
