//! `Note::parse` (C2SP signed-note, FORMAT.md §3.6) on hostile bytes: never
//! panics; the format is canonical, so an accepted note re-encodes to exactly
//! the input and rebuilds from its parts to an equal note. Verification with
//! known keys of both algorithms (0x01, 0x04) must not panic either.
#![no_main]

mod common;

use custody::core::note::{Note, NoteSignature};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(note) = Note::parse(data) else {
        return;
    };
    assert_eq!(
        note.encode().as_bytes(),
        data,
        "encode(parse(bytes)) == bytes"
    );
    let rebuilt = Note::from_parts(note.text().to_owned(), note.signatures().to_vec())
        .expect("the parts of a parsed note are valid");
    assert_eq!(rebuilt, note);
    for sig in note.signatures() {
        let line = sig.to_line();
        let parsed = NoteSignature::parse_line(line.trim_end_matches('\n'))
            .expect("a parsed signature line re-parses");
        assert_eq!(&parsed, sig);
    }
    let known = [
        common::DROPSITE_LOG.clone(),
        common::GUARDIAN_LOG.clone(),
        common::MAG972_WITNESS.clone(),
    ];
    if let Ok(opened) = note.verify(&known) {
        assert_eq!(opened.text, note.text());
        assert!(!opened.verified.is_empty());
    }
});
