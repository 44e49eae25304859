-- leadgate newsletter-cta-pricing@v1 as of 2025-06-01T12:00:00+00:00 (duckdb)
WITH
"ev" AS (
  SELECT
    "e"."lead_id" AS "lead_id",
    "e"."type" AS "type",
    epoch_us("e"."ts") AS "ts_us",
    (CAST(1748779200000000 - epoch_us("e"."ts") AS DOUBLE) / CAST('1000000.0' AS DOUBLE) / CAST('86400.0' AS DOUBLE)) AS "age",
    "e"."url" AS "v0",
    CASE WHEN coalesce(strlen("e"."url") = length("e"."url"), TRUE) THEN lower("e"."url") ELSE replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(translate(lower(replace("e"."url", 'İ', ('i' || chr(775)))), ('µſ' || chr(837) || 'ςϐϑϕϖϰϱϵᏸᏹᏺᏻᏼᏽᲀᲁᲂᲃᲄᲅᲆᲇᲈẛιꭰꭱꭲꭳꭴꭵꭶꭷꭸꭹꭺꭻꭼꭽꭾꭿꮀꮁꮂꮃꮄꮅꮆꮇꮈꮉꮊꮋꮌꮍꮎꮏꮐꮑꮒꮓꮔꮕꮖꮗꮘꮙꮚꮛꮜꮝꮞꮟꮠꮡꮢꮣꮤꮥꮦꮧꮨꮩꮪꮫꮬꮭꮮꮯꮰꮱꮲꮳꮴꮵꮶꮷꮸꮹꮺꮻꮼꮽꮾꮿ'), 'μsισβθφπκρεᏰᏱᏲᏳᏴᏵвдосттъѣꙋṡιᎠᎡᎢᎣᎤᎥᎦᎧᎨᎩᎪᎫᎬᎭᎮᎯᎰᎱᎲᎳᎴᎵᎶᎷᎸᎹᎺᎻᎼᎽᎾᎿᏀᏁᏂᏃᏄᏅᏆᏇᏈᏉᏊᏋᏌᏍᏎᏏᏐᏑᏒᏓᏔᏕᏖᏗᏘᏙᏚᏛᏜᏝᏞᏟᏠᏡᏢᏣᏤᏥᏦᏧᏨᏩᏪᏫᏬᏭᏮᏯ'), 'ß', 'ss'), 'ŉ', 'ʼn'), 'ǰ', ('j' || chr(780))), 'ΐ', ('ι' || chr(776) || chr(769))), 'ΰ', ('υ' || chr(776) || chr(769))), 'և', 'եւ'), 'ẖ', ('h' || chr(817))), 'ẗ', ('t' || chr(776))), 'ẘ', ('w' || chr(778))), 'ẙ', ('y' || chr(778))), 'ẚ', 'aʾ'), 'ὐ', ('υ' || chr(787))), 'ὒ', ('υ' || chr(787) || chr(768))), 'ὔ', ('υ' || chr(787) || chr(769))), 'ὖ', ('υ' || chr(787) || chr(834))), 'ᾀ', 'ἀι'), 'ᾁ', 'ἁι'), 'ᾂ', 'ἂι'), 'ᾃ', 'ἃι'), 'ᾄ', 'ἄι'), 'ᾅ', 'ἅι'), 'ᾆ', 'ἆι'), 'ᾇ', 'ἇι'), 'ᾐ', 'ἠι'), 'ᾑ', 'ἡι'), 'ᾒ', 'ἢι'), 'ᾓ', 'ἣι'), 'ᾔ', 'ἤι'), 'ᾕ', 'ἥι'), 'ᾖ', 'ἦι'), 'ᾗ', 'ἧι'), 'ᾠ', 'ὠι'), 'ᾡ', 'ὡι'), 'ᾢ', 'ὢι'), 'ᾣ', 'ὣι'), 'ᾤ', 'ὤι'), 'ᾥ', 'ὥι'), 'ᾦ', 'ὦι'), 'ᾧ', 'ὧι'), 'ᾲ', 'ὰι'), 'ᾳ', 'αι'), 'ᾴ', 'άι'), 'ᾶ', ('α' || chr(834))), 'ᾷ', ('α' || chr(834) || 'ι')), 'ῂ', 'ὴι'), 'ῃ', 'ηι'), 'ῄ', 'ήι'), 'ῆ', ('η' || chr(834))), 'ῇ', ('η' || chr(834) || 'ι')), 'ῒ', ('ι' || chr(776) || chr(768))), 'ΐ', ('ι' || chr(776) || chr(769))), 'ῖ', ('ι' || chr(834))), 'ῗ', ('ι' || chr(776) || chr(834))), 'ῢ', ('υ' || chr(776) || chr(768))), 'ΰ', ('υ' || chr(776) || chr(769))), 'ῤ', ('ρ' || chr(787))), 'ῦ', ('υ' || chr(834))), 'ῧ', ('υ' || chr(776) || chr(834))), 'ῲ', 'ὼι'), 'ῳ', 'ωι'), 'ῴ', 'ώι'), 'ῶ', ('ω' || chr(834))), 'ῷ', ('ω' || chr(834) || 'ι')), 'ﬀ', 'ff'), 'ﬁ', 'fi'), 'ﬂ', 'fl'), 'ﬃ', 'ffi'), 'ﬄ', 'ffl'), 'ﬅ', 'st'), 'ﬆ', 'st'), 'ﬓ', 'մն'), 'ﬔ', 'մե'), 'ﬕ', 'մի'), 'ﬖ', 'վն'), 'ﬗ', 'մխ') END AS "v1"
  FROM "events" AS "e"
  WHERE epoch_us("e"."ts") <= 1748779200000000 AND ("e"."type" IN ('email.clicked', 'email.opened', 'page.viewed'))
),
"agg" AS (
  SELECT
    "lead_id",
    max_by("ts_us", "ts_us", 3) FILTER (WHERE ("type" = 'email.opened')) AS "a0",
    fsum(CAST('15.0' AS DOUBLE) * pow(CAST('0.5' AS DOUBLE), "age" / CAST('30.0' AS DOUBLE))) FILTER (WHERE ("type" = 'email.clicked')) AS "a1",
    fsum(CAST('25.0' AS DOUBLE) * pow(CAST('0.5' AS DOUBLE), "age" / CAST('30.0' AS DOUBLE))) FILTER (WHERE ("type" = 'page.viewed') AND ("v0" IS NOT NULL AND contains("v1", '/pricing'))) AS "a2"
  FROM "ev"
  GROUP BY "lead_id"
),
"per_lead" AS (
  SELECT
    "l"."lead_id" AS "lead_id",
    "l"."account_id" AS "account_key",
    coalesce(list_aggregate(list_transform("g"."a0", lambda t: CAST('10.0' AS DOUBLE) * pow(CAST('0.5' AS DOUBLE), (CAST(1748779200000000 - t AS DOUBLE) / CAST('1000000.0' AS DOUBLE) / CAST('86400.0' AS DOUBLE)) / CAST('30.0' AS DOUBLE))), 'fsum'), CAST('0.0' AS DOUBLE)) AS "r0",
    coalesce("g"."a1", CAST('0.0' AS DOUBLE)) AS "r1",
    coalesce("g"."a2", CAST('0.0' AS DOUBLE)) AS "r2"
  FROM "leads" AS "l"
  LEFT JOIN "accounts" AS "a" ON "a"."account_id" = "l"."account_id"
  LEFT JOIN "agg" AS "g" ON "g"."lead_id" = "l"."lead_id"
),
"scored" AS (SELECT *, list_aggregate(["r0", "r1", "r2"], 'fsum') AS "s_engagement" FROM "per_lead"),
"graded" AS (SELECT *, CAST(NULL AS VARCHAR) AS "grade" FROM "scored")
SELECT
  "lead_id",
  "s_engagement" AS "engagement",
  "grade",
  ("s_engagement" >= CAST('60.0' AS DOUBLE)) AS "mql"
FROM "graded"
ORDER BY "lead_id"
