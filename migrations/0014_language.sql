-- A person's language (a BCP 47 tag of a catalog under server/locales), NULL until they or
-- the backend choose one or a sign-in's Accept-Language names one: English is used then.
ALTER TABLE users ADD COLUMN language TEXT;
