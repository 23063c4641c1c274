-- One database per service: each owns its tables and nobody reads another's.
CREATE DATABASE portrait_ingest;
CREATE DATABASE portrait_profiler;
CREATE DATABASE portrait_rfm;
CREATE DATABASE portrait_suggest;
CREATE DATABASE portrait_sync;
