/**
 * Passwords refused outright: the most common ones from public breach lists that meet the
 * length rule, plus this product's own words. Compared lower-cased.
 */
export const COMMON_PASSWORDS: ReadonlySet<string> = new Set([
  "password", "password1", "password12", "password123", "password1234", "passw0rd", "p@ssw0rd", "p@ssword",
  "12345678", "123456789", "1234567890", "12345678910", "87654321", "11111111", "00000000", "88888888",
  "123123123", "1q2w3e4r", "1q2w3e4r5t", "1qaz2wsx", "qwertyui", "qwertyuiop", "qwerty123", "qwerty1234",
  "asdfghjkl", "asdfasdf", "zxcvbnm1", "iloveyou", "iloveyou1", "sunshine", "sunshine1", "princess",
  "princess1", "football", "football1", "baseball", "basketball", "superman", "batman123", "trustno1",
  "starwars", "whatever", "letmein1", "letmein123", "welcome1", "welcome123", "admin123", "administrator",
  "changeme", "changeme123", "computer", "internet", "michael1", "jennifer", "jordan23", "liverpool",
  "chelsea1", "arsenal1", "mustang1", "shadow12", "master123", "dragon123", "monkey123", "abc12345",
  "abcd1234", "abcdefgh", "aa123456", "a1234567", "qazwsxedc", "zaq12wsx", "aaaaaaaa", "azerty123",
  "azertyuiop", "q1w2e3r4", "q1w2e3r4t5", "samsung1", "google123", "facebook", "pokemon1", "minecraft",
  "cookie123", "chocolate", "butterfly", "freedom1", "hello123", "helloworld", "loveyou1", "lovely12",
  "secret123", "summer2024", "summer2025", "summer2026", "winter2025", "spring2026", "autumn2026",
  "ciao1234", "ciaociao", "amore123", "forzainter", "forzamilan", "juventus", "napoli123", "roma1234",
  "aiutami1", "aiutami123", "aiutami2026", "careeasy", "careeasy1", "caregiver", "housekeeper", "tutor123",
]);
