// The auditor's library (SPEC §9): reading, replaying, verifying and exporting the event log, and
// checking it against its anchors. Services other than intake's /audit/* routes never import it.
export * from './audit';
export * from './anchor-check';
export { logReaderWorkerAvailable, readLogInWorker } from './log-reader';
