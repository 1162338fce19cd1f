-- A new row id made in SQL: a UUID version 7 (RFC 9562), as newId() makes
-- them in Node (src/db/new-id.ts explains why: ids made one after another
-- sort one after another, so a new row's index entries land at the end of
-- its indexes). A version-4 UUID with the first 48 bits overlaid by the Unix
-- time in milliseconds and its version set from 4 to 7 (PostgreSQL 18 has
-- uuidv7(); the service also runs on 15 and later).
CREATE OR REPLACE FUNCTION orderlock_new_id() RETURNS uuid
LANGUAGE sql VOLATILE
AS $fn$
  SELECT encode(
           set_bit(set_bit(
             overlay(uuid_send(gen_random_uuid())
                     PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
             52, 1), 53, 1),
           'hex')::uuid
$fn$;
