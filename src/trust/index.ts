/**
 * Signed job documents (docs/SIGNING.md): the envelope, the pure verifier, the trust store and the
 * rules of the stateful checks. Imports only lib; the agent and the CLI use it.
 */
export { REASONS, TrustError } from './reasons';
export type { Reason } from './reasons';
export { parseStrictJson, StrictJsonError, hasLoneSurrogate, decodeUtf8 } from './strict-json';
export type { JsonValue, StrictJsonOptions } from './strict-json';
export { canonicalBytes, canonicalText, parseCanonical, NonCanonicalError } from './canonical';
export { b64urlDecode, b64urlEncode } from './b64url';
export { ALGS, KeyError, algOfKey, algOfSigner, isSigner, generateKeyPair, importPrivateKey, importPublicKey, isAlg, publicPem, signBytes, verifyBytes } from './keys';
export type { Alg, Signer } from './keys';
export { JWS_TYP, MAX_SIGNATURES, addSignature, jwsSigningInput, looksSigned, parseEnvelope, parseProtectedHeader, protectedFor, signEntry, signPayload } from './envelope';
export type { Envelope, ProtectedHeader, SignatureEntry } from './envelope';
export { payloadProblems, maxAttemptsOf } from './payload';
export type { Artifact, JobPayload, S3Locator } from './payload';
export {
  loadTrustStore,
  newerStore,
  parseTrustStoreText,
  trustSigningInput,
  validateTrustStore,
  verifiedRootKids,
  verifySelfSigned,
  verifyTrustUpdate,
} from './store';
export type { Policy, TrustStore, TrustStoreDoc } from './store';
export { signTrustStore } from './sign-store';
export { checkPolicy } from './policy';
export { checkSignatures } from './signatures';
export { checkPresignedUrl, checkUrls } from './urls';
export { ArtifactDigest, digestFile, verifyArtifactFile } from './artifact';
export { artifactRefProblem, artifactRefs, substituteArtifacts } from './artifact-refs';
export { NBF_SKEW_SECONDS, checkReplay, checkSeq, effectiveTime, nextHighWater, nextSeqMark, toSeconds } from './rules';
export type { ClockSource, LedgerEntry, ReplayDecision, SeqDecision, SeqMark, TimeInputs } from './rules';
export { checkWindow, decodePayload, verifyJob } from './verify';
export type { Accepted, Rejected, Verdict, VerifyInput } from './verify';
export { verdictDetails } from './details';
