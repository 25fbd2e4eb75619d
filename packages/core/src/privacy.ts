// The privacy stage lives in ./privacy/ (modes, scrubbers, size caps, the filter); this module
// keeps the path the rest of core imports it from.
export {
  CONTENT_FIELDS,
  type PrivacyMode,
  type PrivacyOptions,
  REDACTED,
  type SecretPattern,
} from "./privacy/modes.js";
export { PrivacyFilter } from "./privacy/privacy-filter.js";
export { Scrubber, type ScrubberOptions, scrubString } from "./privacy/scrubber.js";
export { isSecretKey } from "./privacy/secret-names.js";
export { SECRET_PATTERNS, type SecretDetector } from "./privacy/text-scanner.js";
