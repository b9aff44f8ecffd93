-- Standard codes in one form: Common Core codes lose the CCSS., MATH.CONTENT.,
-- MATH.PRACTICE. and ELA-LITERACY. prefixes of the long identifiers and NGSS
-- codes are in capitals, as new plans store them (actors/lesson_plan.py
-- ccss_code), so search and standard follows match plans stored before.

UPDATE lesson_plans p
SET alignments = (
    SELECT jsonb_agg(
        CASE
            WHEN a.item->>'framework' = 'CCSS' THEN jsonb_set(
                a.item, '{code}', to_jsonb(regexp_replace(
                    a.item->>'code',
                    '^(CCSS\.)?(MATH\.CONTENT\.|MATH\.PRACTICE\.|ELA-LITERACY\.)?',
                    '', 'i')))
            WHEN a.item->>'framework' = 'NGSS' THEN jsonb_set(
                a.item, '{code}', to_jsonb(upper(a.item->>'code')))
            ELSE a.item
        END
        ORDER BY a.position)
    FROM jsonb_array_elements(p.alignments) WITH ORDINALITY AS a(item, position)
)
WHERE jsonb_typeof(p.alignments) = 'array'
    AND jsonb_array_length(p.alignments) > 0
    AND EXISTS (
        SELECT 1 FROM jsonb_array_elements(p.alignments) AS b(item)
        WHERE (b.item->>'framework' = 'CCSS'
               AND b.item->>'code' ~* '^(CCSS|MATH|ELA-LITERACY)\.')
           OR (b.item->>'framework' = 'NGSS'
               AND b.item->>'code' <> upper(b.item->>'code'))
    );

-- Followed codes keep a given framework in front: CCSS.MATH.CONTENT.6.RP.A.1
-- becomes CCSS.6.RP.A.1. A follow that would duplicate one the teacher has is
-- removed.
DELETE FROM tag_follows f
WHERE f.kind = 'standard'
    AND f.name ~* '^CCSS\.(MATH\.CONTENT\.|MATH\.PRACTICE\.|ELA-LITERACY\.)'
    AND EXISTS (
        SELECT 1 FROM tag_follows g
        WHERE g.account_id = f.account_id AND g.kind = 'standard'
            AND g.name = 'CCSS.' || regexp_replace(
                f.name,
                '^CCSS\.(MATH\.CONTENT\.|MATH\.PRACTICE\.|ELA-LITERACY\.)',
                '', 'i')
    );

UPDATE tag_follows
SET name = 'CCSS.' || regexp_replace(
    name, '^CCSS\.(MATH\.CONTENT\.|MATH\.PRACTICE\.|ELA-LITERACY\.)', '', 'i')
WHERE kind = 'standard'
    AND name ~* '^CCSS\.(MATH\.CONTENT\.|MATH\.PRACTICE\.|ELA-LITERACY\.)';
