// A rough passphrase strength estimate, in bits, to steer people away from weak choices. It
// errs on the low side: it cannot know what an attacker's word lists contain.

export type Strength = "none" | "weak" | "fair" | "strong";

const COMMON = ["password", "qwerty", "123456", "letmein", "admin", "пароль", "йцукен", "qwertz", "vigil", "iloveyou"];
const SEQUENCES = ["abcdefghijklmnopqrstuvwxyz", "0123456789", "qwertyuiop", "asdfghjkl", "zxcvbnm", "йцукенгшщзхъ", "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"];
const FAIR_BITS = 50;
const STRONG_BITS = 72;

export function estimateBits(passphrase: string): number {
  const text = passphrase.normalize("NFC");
  const chars = Array.from(text);
  if (chars.length === 0) return 0;

  let pool = 0;
  if (/[a-z]/.test(text)) pool += 26;
  if (/[A-Z]/.test(text)) pool += 26;
  if (/[0-9]/.test(text)) pool += 10;
  if (/[^\p{L}\p{N}]/u.test(text)) pool += 33;
  if (/[^\x00-\x7f]/.test(text) && /\p{L}/u.test(text.replace(/[A-Za-z]/g, ""))) pool += 33;
  pool = Math.max(pool, 10);

  // Repeats and runs ("aaaa", "1234", "qwer") add little.
  const lower = chars.map((c) => c.toLowerCase());
  let effective = 0;
  for (let i = 0; i < lower.length; i++) {
    const c = lower[i]!;
    const prev = lower[i - 1];
    const runs = prev !== undefined && SEQUENCES.some((s) => s.includes(prev + c) || s.includes(c + prev));
    effective += c === prev || runs ? 0.25 : 1;
  }
  let bits = effective * Math.log2(pool);

  const lowered = text.toLowerCase();
  for (const word of COMMON) if (lowered.includes(word)) bits -= word.length * Math.log2(pool) * 0.8;

  // A passphrase of words is as strong as its words are many, not as its letters.
  const words = text.split(/[\s\-_.,;:+]+/u).filter((w) => w.length >= 2);
  if (words.length >= 3) bits = Math.min(bits, words.length * 13 + 10);

  return Math.max(0, Math.round(bits));
}

export function strengthOf(passphrase: string): Strength {
  if (passphrase.length === 0) return "none";
  const bits = estimateBits(passphrase);
  if (bits >= STRONG_BITS) return "strong";
  if (bits >= FAIR_BITS) return "fair";
  return "weak";
}

/** The bar's fill, 0 to 1. */
export function fillOf(passphrase: string): number {
  return Math.min(1, estimateBits(passphrase) / (STRONG_BITS + 8));
}
