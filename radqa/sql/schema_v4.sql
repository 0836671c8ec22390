-- Schema version 4: facts about the store itself, one row each. 'key_fingerprint' is an HMAC of a
-- fixed text under the pseudonymisation key (ingest.pseudonym.fingerprint): ingest refuses a key
-- that does not give it, so a lost or replaced key cannot silently give every patient and reader a
-- second pseudonym. It reveals no identifier and cannot be turned back into the key.
create table if not exists store_meta (name varchar primary key, value varchar not null);
