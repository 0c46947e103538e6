use super::*;
use proptest::prelude::*;

fn key() -> SignerKey {
    SignerKey::from_seed("example.org/log", &[7u8; 32]).unwrap()
}

fn body(recipients: Vec<Digest>) -> RecordBody {
    RecordBody {
        index: 5,
        time_ms: 1_795_000_000_123,
        origin: "example.org/log".into(),
        signer: key().key_id(),
        payload: Payload::Ingest(Ingest {
            blob: Digest([1; 32]),
            blob_size: 1234,
            commitment: Digest([2; 32]),
            meta: Digest([3; 32]),
            meta_size: 321,
            recipients,
        }),
    }
}

fn signed() -> Record {
    body(vec![Digest([4; 32]), Digest([9; 32])])
        .sign(&key())
        .unwrap()
}

#[test]
fn round_trip_and_layout() {
    let r = signed();
    let b = r.bytes();
    // FORMAT.md §4.4 size formula: 2+8+8+1+|origin|+4 + 32+8+32+32+8+1+32n + 64.
    assert_eq!(
        b.len(),
        2 + 8 + 8 + 1 + 15 + 4 + 32 + 8 + 32 + 32 + 8 + 1 + 64 + 64
    );
    assert_eq!(&b[..2], &[1, 1]);
    assert_eq!(&b[2..10], &5u64.to_be_bytes());
    assert_eq!(b[18] as usize, "example.org/log".len());
    let d = Record::decode(b).unwrap();
    assert_eq!(d, r);
    let vk = key().verifier();
    d.verify_signature(vk.verifying_key(), vk.key_id()).unwrap();
    assert_eq!(d.leaf_hash(), crate::core::merkle::leaf_hash(b));
}

#[test]
fn strict_decoder_rejects_each_non_canonical_form() {
    let good = signed().bytes().to_vec();
    let mut v = good.clone();
    v[0] = 2;
    assert_eq!(Record::decode(&v), Err(RecordError::UnknownVersion(2)));
    let mut v = good.clone();
    v[1] = 15;
    assert_eq!(Record::decode(&v), Err(RecordError::UnknownKind(15)));
    let mut v = good.clone();
    v[1] = 0;
    assert_eq!(Record::decode(&v), Err(RecordError::UnknownKind(0)));
    let mut v = good.clone();
    v.push(0);
    assert_eq!(Record::decode(&v), Err(RecordError::TrailingBytes(1)));
    assert!(matches!(
        Record::decode(&good[..good.len() - 1]),
        Err(RecordError::Truncated(_))
    ));
    // Origin with a control character.
    let mut v = good.clone();
    v[19] = b'\n';
    assert_eq!(Record::decode(&v), Err(RecordError::BadOrigin));
    // Recipients out of order: swap the two fingerprints.
    let off = 19 + 15 + 4 + 32 + 8 + 32 + 32 + 8 + 1;
    let mut v = good.clone();
    let (a, b) = (v[off..off + 32].to_vec(), v[off + 32..off + 64].to_vec());
    v[off..off + 32].copy_from_slice(&b);
    v[off + 32..off + 64].copy_from_slice(&a);
    assert_eq!(Record::decode(&v), Err(RecordError::BadRecipients));
    // Zero recipients.
    let mut v = good[..off - 1].to_vec();
    v.push(0);
    v.extend_from_slice(&good[good.len() - 64..]);
    assert_eq!(Record::decode(&v), Err(RecordError::BadRecipients));
    assert_eq!(
        Record::decode(&vec![1u8; MAX_RECORD_LEN + 1]),
        Err(RecordError::TooLong(MAX_RECORD_LEN + 1))
    );
}

#[test]
fn signing_refuses_invalid_bodies() {
    assert_eq!(
        body(vec![Digest([9; 32]), Digest([4; 32])]).sign(&key()),
        Err(RecordError::BadRecipients)
    );
    assert_eq!(body(vec![]).sign(&key()), Err(RecordError::BadRecipients));
    let mut b = body(vec![Digest([4; 32])]);
    b.origin = String::new();
    assert_eq!(b.sign(&key()), Err(RecordError::BadOrigin));
}

#[test]
fn tampered_records_fail_signature_with_the_right_error() {
    let r = signed();
    let vk = key().verifier();
    for i in [0usize, 3, 10, 19, 40, 100, r.bytes().len() - 1] {
        let mut v = r.bytes().to_vec();
        v[i] ^= 0x01;
        match Record::decode(&v) {
            Err(_) => {}
            Ok(t) => {
                let e = t
                    .verify_signature(vk.verifying_key(), vk.key_id())
                    .unwrap_err();
                if (34..38).contains(&i) {
                    assert!(
                        matches!(e, SignatureCheckError::WrongSigner { .. }),
                        "byte {i}"
                    );
                } else {
                    assert_eq!(e, SignatureCheckError::Invalid, "byte {i}");
                }
            }
        }
    }
    let other = SignerKey::from_seed("example.org/log", &[8u8; 32])
        .unwrap()
        .verifier();
    assert!(matches!(
        r.verify_signature(other.verifying_key(), vk.key_id()),
        Err(SignatureCheckError::Invalid)
    ));
}

fn share_and_receive_bodies() -> Vec<RecordBody> {
    let share = Payload::Share(Share {
        document: 3,
        commitment: Digest([5; 32]),
        payload: Digest([6; 32]),
        payload_size: 99,
        envelope: Digest([7; 32]),
        recipients: vec![Digest([8; 32])],
        sealed: None,
    });
    let receive = Payload::Receive(Receive {
        stored: Ingest {
            blob: Digest([1; 32]),
            blob_size: 10,
            commitment: Digest([5; 32]),
            meta: Digest([3; 32]),
            meta_size: 11,
            recipients: vec![Digest([4; 32])],
        },
        from: Link {
            origin: "other.example/log".into(),
            key_id: KeyId(0xdeadbeef),
            index: 8,
            leaf_hash: Digest([9; 32]),
            checkpoint_size: 9,
            checkpoint_root: Digest([10; 32]),
        },
        evidence: Digest([11; 32]),
        evidence_size: 1234,
        policy: None,
    });
    [share, receive]
        .into_iter()
        .map(|payload| RecordBody {
            payload,
            ..body(vec![Digest([4; 32])])
        })
        .collect()
}

#[test]
fn share_and_receive_round_trip_with_their_layouts() {
    let bodies = share_and_receive_bodies();
    // FORMAT.md §4.5: 8 + 32 + 32 + 8 + 32 + 1 + 32n.
    let s = bodies[0].clone().sign(&key()).unwrap();
    assert_eq!(s.bytes()[1], 2);
    assert_eq!(
        s.bytes().len(),
        2 + 8 + 8 + 1 + 15 + 4 + 8 + 32 + 32 + 8 + 32 + 1 + 32 + 64
    );
    // FORMAT.md §4.6: stored fields as §4.4, then 1 + |origin| + 4 + 8 + 32 + 8 + 32 + 32 + 8.
    let r = bodies[1].clone().sign(&key()).unwrap();
    assert_eq!(r.bytes()[1], 3);
    assert_eq!(
        r.bytes().len(),
        2 + 8
            + 8
            + 1
            + 15
            + 4
            + (32 + 8 + 32 + 32 + 8 + 1 + 32)
            + (1 + 17 + 4 + 8 + 32 + 8 + 32 + 32 + 8)
            + 64
    );
    for rec in [s, r] {
        let d = Record::decode(rec.bytes()).unwrap();
        assert_eq!(d, rec);
        assert_eq!(d.commitment(), Some(&Digest([5; 32])));
        let vk = key().verifier();
        d.verify_signature(vk.verifying_key(), vk.key_id()).unwrap();
        for cut in 0..rec.bytes().len() {
            assert!(Record::decode(&rec.bytes()[..cut]).is_err());
        }
    }
}

#[test]
fn issue4_kinds_round_trip_and_reject_truncation() {
    let about = DocRef {
        document: 3,
        commitment: Digest([5; 32]),
    };
    let payloads = vec![
        Payload::Actor(ActorChange {
            action: ActorAction::Revoke,
            name: "alice".into(),
            role: Role::Journalist,
            key_name: "example.org/alice".into(),
            key: [9; 32],
            reason: "left the outlet".into(),
            sealed: None,
        }),
        Payload::Access(Access {
            about,
            reason: "fact-check".into(),
            sealed: None,
        }),
        Payload::Derive(Derive {
            stored: Ingest {
                blob: Digest([1; 32]),
                blob_size: 10,
                commitment: Digest([6; 32]),
                meta: Digest([3; 32]),
                meta_size: 11,
                recipients: vec![Digest([4; 32])],
            },
            relation: Relation::Redaction,
            parents: vec![
                about,
                DocRef {
                    document: 4,
                    commitment: Digest([7; 32]),
                },
            ],
        }),
        Payload::Annotate(Annotate {
            about,
            note: Digest([8; 32]),
            note_size: 99,
        }),
        Payload::Approve(Approve {
            about,
            purpose: Purpose::Publication,
        }),
        Payload::Grant(Grant {
            about,
            actor: GrantTo::Name("bob".into()),
        }),
        Payload::Audit(AuditDone {
            about,
            report: Digest([2; 32]),
            findings: 2,
        }),
    ];
    for (n, payload) in payloads.into_iter().enumerate() {
        let b = RecordBody {
            payload,
            ..body(vec![Digest([4; 32])])
        };
        let r = b.sign(&key()).unwrap();
        assert_eq!(r.bytes()[1] as usize, 4 + n, "kind byte");
        let d = Record::decode(r.bytes()).unwrap();
        assert_eq!(d, r);
        for cut in 0..r.bytes().len() {
            assert!(Record::decode(&r.bytes()[..cut]).is_err());
        }
    }
    // Parents out of order, a bad name, an unknown role byte are refused.
    let mut b = body(vec![Digest([4; 32])]);
    b.payload = Payload::Grant(Grant {
        about,
        actor: GrantTo::Name("Bob Smith".into()),
    });
    assert_eq!(b.sign(&key()), Err(RecordError::BadName));
    let mut b = body(vec![Digest([4; 32])]);
    b.payload = Payload::Access(Access {
        about,
        reason: "a\u{7}b".into(),
        sealed: None,
    });
    assert_eq!(b.sign(&key()), Err(RecordError::BadText));
}

/// Issue 14 item 6: the version 2 layouts (FORMAT.md §4.16) byte for
/// byte, their round trip, and what a decoder refuses.
#[test]
fn sealed_layouts_name_no_one() {
    let about = DocRef {
        document: 3,
        commitment: Digest([5; 32]),
    };
    let sealed = Sealed {
        digest: Digest([0xaa; 32]),
        size: 0x0102,
    };
    let at = |index: u64, payload: Payload| RecordBody {
        index,
        payload,
        ..body(vec![Digest([4; 32])])
    };
    let header = |b: &RecordBody| 2 + 8 + 8 + 1 + b.origin.len() + 4;
    // actor add: action, role, actor (= its own index), key, sealed.
    let mut add = at(
        9,
        Payload::Actor(ActorChange {
            action: ActorAction::Add,
            name: String::new(),
            role: Role::Editor,
            key_name: String::new(),
            key: [7; 32],
            reason: String::new(),
            sealed: Some(SealedActor {
                actor: 0,
                key_id: actor_key_id(&[7; 32]),
                details: sealed,
            }),
        }),
    );
    add.place(9);
    let enc = add.encode();
    assert_eq!(enc[0], RECORD_VERSION_SEALED);
    let p = &enc[header(&add)..];
    let mut want = vec![1u8, 2];
    want.extend_from_slice(&9u64.to_be_bytes());
    want.extend_from_slice(&[7; 32]);
    want.extend_from_slice(&[0xaa; 32]);
    want.extend_from_slice(&0x0102u64.to_be_bytes());
    assert_eq!(p, &want[..]);
    let r = add.clone().sign(&key()).unwrap();
    let d = Record::decode(r.bytes()).unwrap();
    assert_eq!(d, r);
    assert_eq!(ActorChange::label(9), "#9");
    // The key ID is the key's under the one actor key name, whatever its own name.
    assert_eq!(
        actor_key_id(&[7; 32]),
        KeyId::compute("custody-actor", 0x01, &[7; 32])
    );
    let mut wrong = add.clone();
    if let Payload::Actor(a) = &mut wrong.payload {
        a.sealed.as_mut().unwrap().key_id = KeyId(1);
    }
    assert_eq!(wrong.sign(&key()), Err(RecordError::BadActor));
    // An add that names another record, a revoke that names a later one.
    let mut bytes = r.body_bytes().to_vec();
    bytes[header(&add) + 2 + 7] = 8; // the actor field's last byte: 9 -> 8
    assert_eq!(
        Record::decode(&[&bytes[..], &[0; 64]].concat()),
        Err(RecordError::BadActor)
    );
    // grant, access, share: version 2 layouts.
    let grant = at(
        9,
        Payload::Grant(Grant {
            about,
            actor: GrantTo::Added(4),
        }),
    );
    let access = at(
        9,
        Payload::Access(Access {
            about,
            reason: String::new(),
            sealed: Some(sealed),
        }),
    );
    let share = at(
        9,
        Payload::Share(Share {
            document: 3,
            commitment: Digest([5; 32]),
            payload: Digest([6; 32]),
            payload_size: 99,
            envelope: Digest([7; 32]),
            recipients: Vec::new(),
            sealed: Some(sealed),
        }),
    );
    for (b, payload_len) in [
        (&grant, 8 + 32 + 8),
        (&access, 40 + 40),
        (&share, 8 + 32 + 32 + 8 + 32 + 40),
    ] {
        let r = b.clone().sign(&key()).unwrap();
        assert_eq!(r.bytes()[0], RECORD_VERSION_SEALED);
        assert_eq!(r.bytes().len(), header(b) + payload_len + 64);
        assert_eq!(Record::decode(r.bytes()).unwrap(), r);
        for cut in 0..r.bytes().len() {
            assert!(Record::decode(&r.bytes()[..cut]).is_err());
        }
    }
    // receive, version 2: the policy applied is on record; none means
    // exactly a zero digest.
    for (source, digest, ok) in [
        (PolicySource::Command, Digest([3; 32]), true),
        (PolicySource::None, Digest([0; 32]), true),
        (PolicySource::None, Digest([3; 32]), false),
        (PolicySource::Config, Digest([0; 32]), false),
    ] {
        let Payload::Receive(mut r) = share_and_receive_bodies().remove(1).payload else {
            panic!("the second body is a receive")
        };
        r.policy = Some(ReceivePolicy { source, digest });
        let b = at(9, Payload::Receive(r));
        match b.sign(&key()) {
            Ok(rec) => {
                assert!(ok);
                assert_eq!(rec.bytes()[0], RECORD_VERSION_SEALED);
                assert_eq!(Record::decode(rec.bytes()).unwrap(), rec);
            }
            Err(e) => assert!(!ok, "{e}"),
        }
    }
    // A grant naming a later record; version 2 of a kind that has none.
    let mut g = grant.clone();
    g.payload = Payload::Grant(Grant {
        about,
        actor: GrantTo::Added(9),
    });
    assert_eq!(g.sign(&key()), Err(RecordError::BadActor));
    let mut v = body(vec![Digest([4; 32])])
        .sign(&key())
        .unwrap()
        .bytes()
        .to_vec();
    v[0] = RECORD_VERSION_SEALED;
    assert_eq!(Record::decode(&v), Err(RecordError::UnknownVersion(2)));
    // A version 2 record carries no clear recipient, reason or name.
    let mut x = share.clone();
    if let Payload::Share(s) = &mut x.payload {
        s.recipients = vec![Digest([8; 32])];
    }
    assert_eq!(x.sign(&key()), Err(RecordError::BadRecipients));
}

/// Issue 14: the `config` record (FORMAT.md §4.15): its layout byte for
/// byte, the round trip, and each non-canonical form refused.
#[test]
fn config_record_layout_and_strict_decoding() {
    let cfg = ArchiveConfig {
        recipients: vec![Digest([1; 32]), Digest([2; 32])],
        approvals: vec![Role::Editor, Role::Legal],
        partner_policy: "log a+1+AA==\n".into(),
        own_policy: String::new(),
        sealed: None,
    };
    let b = RecordBody {
        payload: Payload::Config(cfg.clone()),
        ..body(vec![Digest([4; 32])])
    };
    let r = b.sign(&key()).unwrap();
    let bytes = r.bytes();
    assert_eq!(bytes[1], 0x0b, "kind byte");
    let origin_len = bytes[18] as usize;
    let p = &bytes[19 + origin_len + 4..bytes.len() - SIGNATURE_LEN];
    let mut want = vec![2u8];
    want.extend([1u8; 32]);
    want.extend([2u8; 32]);
    want.extend([2u8, 2, 3]);
    want.extend(13u16.to_be_bytes());
    want.extend(b"log a+1+AA==\n");
    want.extend(0u16.to_be_bytes());
    assert_eq!(p, &want[..]);
    assert_eq!(Record::decode(bytes).unwrap(), r);
    for cut in 0..bytes.len() {
        assert!(Record::decode(&bytes[..cut]).is_err());
    }
    // Roles out of order or repeated, an unknown role, control characters.
    let at_roles = 19 + origin_len + 4 + 1 + 64;
    for (i, v, want) in [
        (at_roles + 1, 3u8, RecordError::BadRoles),
        (at_roles + 2, 2u8, RecordError::BadRoles),
        (at_roles + 2, 9u8, RecordError::BadEnum(9)),
        (at_roles + 5, 7u8, RecordError::BadText),
    ] {
        let mut x = bytes.to_vec();
        x[i] = v;
        if i == at_roles + 1 {
            x[at_roles + 2] = 2;
        }
        assert_eq!(Record::decode(&x), Err(want), "byte {i} = {v}");
    }
    let mut bad = cfg;
    bad.approvals = vec![Role::Legal, Role::Editor];
    let b = RecordBody {
        payload: Payload::Config(bad),
        ..body(vec![Digest([4; 32])])
    };
    assert_eq!(b.sign(&key()), Err(RecordError::BadRoles));
}

/// Issue 6: a record's lengths are at most a u16, and each is checked
/// against the bytes present; a record over 64 KiB is refused before it
/// is read; declared sizes (blob, envelope) are numbers, never buffers.
#[test]
fn declared_lengths_are_bounded() {
    use crate::core::testing::fast;
    let decode = |b: &[u8]| fast("Record::decode", || Record::decode(b));
    let header = |kind: Kind| {
        let mut b = vec![RECORD_VERSION, kind as u8];
        b.extend_from_slice(&5u64.to_be_bytes());
        b.extend_from_slice(&7u64.to_be_bytes());
        b.push(15);
        b.extend_from_slice(b"example.org/log");
        b.extend_from_slice(&key().key_id().0.to_be_bytes());
        b
    };
    assert_eq!(
        decode(&vec![1; 1 << 20]),
        Err(RecordError::TooLong(1 << 20))
    );
    // 255 recipients declared, none present.
    let mut b = header(Kind::Ingest);
    b.extend_from_slice(&[0; 32 + 8 + 32 + 32 + 8]);
    b.push(u8::MAX);
    assert_eq!(decode(&b), Err(RecordError::Truncated(32)));
    // An actor record whose reason declares 65,535 bytes.
    let mut b = header(Kind::Actor);
    b.push(1);
    b.extend_from_slice(b"\x03bob\x01");
    b.extend_from_slice(b"\x0dbob.example/k");
    b.extend_from_slice(&[9; 32]);
    b.extend_from_slice(&u16::MAX.to_be_bytes());
    assert_eq!(decode(&b), Err(RecordError::Truncated(u16::MAX as usize)));
    // 255 parents declared, none present.
    let mut b = header(Kind::Derive);
    b.extend_from_slice(&[0; 32 + 8 + 32 + 32 + 8]);
    b.push(1);
    b.extend_from_slice(&[1; 32]);
    b.push(1);
    b.push(u8::MAX);
    assert_eq!(decode(&b), Err(RecordError::Truncated(8)));
    // A blob and an envelope declared u64::MAX bytes long decode: the
    // sizes are compared with the stored files, never allocated.
    let mut big = body(vec![Digest([4; 32])]);
    if let Payload::Ingest(i) = &mut big.payload {
        i.blob_size = u64::MAX;
        i.meta_size = u64::MAX;
    }
    let rec = big.sign(&key()).unwrap();
    let again = decode(rec.bytes()).unwrap();
    assert_eq!(again.ingest().map(|i| i.blob_size), Some(u64::MAX));
}

proptest! {
    #[test]
    fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Record::decode(&bytes);
    }

    #[test]
    fn decode_encode_is_identity(idx in any::<u64>(), t in any::<u64>(), n in 1usize..5, size in any::<u64>()) {
        let mut recips: Vec<Digest> = (0..n).map(|i| Digest([i as u8 * 3 + 1; 32])).collect();
        recips.sort();
        let mut b = body(recips);
        b.index = idx;
        b.time_ms = t;
        let Payload::Ingest(i) = &mut b.payload else { unreachable!() };
        i.blob_size = size;
        let r = b.sign(&key()).unwrap();
        let d = Record::decode(r.bytes()).unwrap();
        prop_assert_eq!(d.body.encode(), r.body.encode());
        prop_assert_eq!(d.bytes(), r.bytes());
    }
}

#[test]
fn rekey_records_round_trip_and_refuse_a_file_replacing_itself() {
    use crate::core::record::Rekey;
    let k = Rekey {
        old: Digest::of(b"old"),
        new: Digest::of(b"new"),
        new_size: 612,
        recipients: vec![Digest::of(b"r")],
    };
    let body = RecordBody {
        index: 40,
        time_ms: 1_800_000_000_000,
        origin: "dropsite.example/leaks".into(),
        signer: key().key_id(),
        payload: Payload::Rekey(k.clone()),
    };
    let rec = body.sign(&key()).unwrap();
    // FORMAT.md §4.17: header 23 + origin 22, payload 32+32+8+1+32, signature 64.
    assert_eq!(
        rec.bytes().len(),
        2 + 8 + 8 + 1 + 22 + 4 + 32 + 32 + 8 + 1 + 32 + 64
    );
    let back = Record::decode(rec.bytes()).unwrap();
    assert_eq!(back.rekey(), Some(&k));
    let same = RecordBody {
        index: 41,
        time_ms: 1_800_000_000_000,
        origin: "dropsite.example/leaks".into(),
        signer: key().key_id(),
        payload: Payload::Rekey(Rekey { new: k.old, ..k }),
    };
    assert!(same.sign(&key()).is_err());
}

#[test]
fn compartment_records_round_trip_and_exist_in_version_2_only() {
    use crate::core::record::{Compartment, Sealed};
    let mut members = vec![Digest::of(b"escrow"), Digest::of(b"jo")];
    members.sort();
    let c = Compartment {
        id: 1,
        members,
        sealed: Sealed {
            digest: Digest::of(b"details"),
            size: 4448,
        },
    };
    let body = |index, payload| RecordBody {
        index,
        time_ms: 1_800_000_000_000,
        origin: "dropsite.example/leaks".into(),
        signer: key().key_id(),
        payload,
    };
    let rec = body(40, Payload::Compartment(c.clone()))
        .sign(&key())
        .unwrap();
    // FORMAT.md §4.18: header 23 + origin 22, payload 2+1+32n+40, signature 64.
    assert_eq!(
        rec.bytes().len(),
        2 + 8 + 8 + 1 + 22 + 4 + 2 + 1 + 64 + 40 + 64
    );
    assert_eq!(rec.bytes()[0], RECORD_VERSION_SEALED);
    assert_eq!(rec.bytes()[1], 13);
    let back = Record::decode(rec.bytes()).unwrap();
    assert_eq!(back.body.payload, Payload::Compartment(c.clone()));
    // Number 0, unsorted members: refused.
    assert!(
        body(41, Payload::Compartment(Compartment { id: 0, ..c.clone() }))
            .sign(&key())
            .is_err()
    );
    let mut rev = c.members.clone();
    rev.reverse();
    assert!(body(
        42,
        Payload::Compartment(Compartment {
            members: rev,
            ..c.clone()
        })
    )
    .sign(&key())
    .is_err());
    // A version 1 header on a compartment's bytes.
    let mut v = rec.bytes().to_vec();
    v[0] = RECORD_VERSION;
    assert!(Record::decode(&v).is_err());
}

#[test]
fn rewrap_records_round_trip_in_version_2_only_with_their_added_recipient_listed() {
    use crate::core::record::{Rekey, Rewrap};
    let mut recipients = vec![Digest::of(b"escrow"), Digest::of(b"bo")];
    recipients.sort();
    let w = Rewrap {
        grant: 39,
        added: Digest::of(b"bo"),
        blob: Rekey {
            old: Digest::of(b"old"),
            new: Digest::of(b"new"),
            new_size: 1024,
            recipients,
        },
    };
    let body = |index: u64, w: Rewrap| RecordBody {
        index,
        time_ms: 1_800_000_000_000,
        origin: "dropsite.example/leaks".into(),
        signer: key().key_id(),
        payload: Payload::Rewrap(w),
    };
    let rec = body(40, w.clone()).sign(&key()).unwrap();
    // FORMAT.md §4.19: header 23 + origin 22, payload 8+32+32+32+8+1+64, signature 64.
    assert_eq!(rec.bytes().len(), 200 + 22 + 32 * 2);
    assert_eq!(rec.bytes()[0], 2, "version 2 only");
    assert_eq!(rec.bytes()[1], 14);
    let back = Record::decode(rec.bytes()).unwrap();
    assert_eq!(back.body.payload, Payload::Rewrap(w.clone()));
    // Chain readers see its blob fields as a rekey's.
    assert_eq!(back.rekey(), Some(&w.blob));
    // As version 1: refused.
    let mut v1 = rec.bytes().to_vec();
    v1[0] = 1;
    assert!(Record::decode(&v1).is_err());
    // A grant not just before it, an added recipient not listed, old = new.
    assert!(body(39, w.clone()).sign(&key()).is_err());
    assert!(body(41, w.clone()).sign(&key()).is_err());
    let stranger = Rewrap {
        added: Digest::of(b"stranger"),
        ..w.clone()
    };
    assert!(body(40, stranger).sign(&key()).is_err());
    let mut same = w.clone();
    same.blob.new = same.blob.old;
    assert!(body(40, same).sign(&key()).is_err());
}
