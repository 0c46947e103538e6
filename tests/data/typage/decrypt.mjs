// node decrypt.mjs IDENTITY_FILE AGE_FILE: the plaintext on stdout, with the
// TypeScript age implementation (npm age-encryption, "typage"), which reads
// X25519 (AGE-SECRET-KEY-1…) and post-quantum (AGE-SECRET-KEY-PQ-1…)
// identities. Run from the folder where age-encryption is installed
// (tests/age_format.rs copies it there). Exit 2 on a decryption error.
import { Decrypter } from "age-encryption";
import { readFileSync } from "node:fs";

const [idFile, ageFile] = process.argv.slice(2);
const d = new Decrypter();
for (const line of readFileSync(idFile, "utf8").split("\n")) {
  if (line.trim().startsWith("AGE-SECRET-KEY-")) d.addIdentity(line.trim());
}
try {
  const out = await d.decrypt(readFileSync(ageFile));
  process.stdout.write(out);
} catch (e) {
  console.error(`typage: ${e && e.message ? e.message : e}`);
  process.exit(2);
}
