"""Writes the bad-input corpus: malformed files of every format lumbar reads.

Each file sits in the folder of the table it is given for (sessions/,
walking/, ...). tests/e2e/corpus.rs ingests every one and asserts: no panic,
an error that names the file (and a line or byte where there is one), or
counts with read = accepted + rejected.

    python3 tests/corpus/make_corpus.py      # rewrites the corpus
"""
import gzip
import io
import json
import os
import zipfile
from pathlib import Path

here = Path(__file__).resolve().parent
SES = "patient_id,performed_at,exercise,level,side,sets,reps,hold_s,pain_before,pain_during,pain_after,pain_persist_min,stopped_for_pain,completed,source\n"
OK_SES = "P00001,2025-01-06 08:00,bridge,,,2,12,5,3,4,3,0,false,true,app\n"
WALK = "patient_id,date,walking_min,steps,wear_min,mean_met,source\n"
OK_WALK = "P00001,2025-01-06,45,5000,800,,accel\n"


def w(rel, data):
    p = here / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data if isinstance(data, bytes) else data.encode())


def apple(records, head='<?xml version="1.0" encoding="UTF-8"?>\n<HealthData locale="en">\n', tail="</HealthData>\n"):
    return head + "".join(records) + tail


def rec(start="2025-01-06 08:00:00 +0100", value="100", kind="HKQuantityTypeIdentifierStepCount"):
    return f' <Record type="{kind}" sourceName="iPhone" unit="count" startDate="{start}" endDate="{start}" value="{value}"/>\n'


def obs(code="41950-7", value=5000, subject="Patient/P00001", when="2025-01-06", rt="Observation"):
    return json.dumps({"resourceType": rt, "status": "final",
                       "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                       "subject": {"reference": subject}, "effectiveDateTime": when,
                       "valueQuantity": {"value": value}})


# --- sessions (CSV) ---
w("sessions/truncated_quote.csv", SES + OK_SES + 'P00001,"2025-01-06 09:00,bridge,,,2,12,5,3,4,3,0,false,true,app\n')
w("sessions/invalid_utf8.csv", SES.encode() + OK_SES.encode() + b"P00001,2025-01-06 09:00,bri\xff\xfedge,,,2,12,5,3,4,3,0,false,true,app\n")
w("sessions/wrong_delimiter_pipe.csv", SES.replace(",", "|") + OK_SES.replace(",", "|"))
w("sessions/huge_field.csv", SES + OK_SES + "P00001,2025-01-06 09:00," + "x" * (1 << 20) + ",,,2,12,5,3,4,3,0,false,true,app\n")
w("sessions/negative_reps.csv", SES + OK_SES + "P00001,2025-01-06 09:00,bridge,,,2,-12,5,3,4,3,0,false,true,app\n")
w("sessions/nan_pain.csv", SES + OK_SES + "P00001,2025-01-06 09:00,bridge,,,2,12,5,3,NaN,3,0,false,true,app\n")
w("sessions/inf_values.csv", SES + "P00001,2025-01-06 09:00,bridge,,,2,inf,5,3,4,3,0,false,true,app\n")
for name, when in [("date_dmy", "25/12/2024 08:00"), ("date_mdy", "12/25/2024 08:00"), ("date_text_month", "25 Dec 2024 08:00"),
                   ("date_compact", "20241225T0800"), ("date_two_digit_year", "24-12-25 08:00")]:
    w(f"sessions/{name}.csv", SES + OK_SES + f"P00001,{when},bridge,,,2,12,5,3,4,3,0,false,true,app\n")
w("sessions/duplicated_header.csv", SES.replace("reps,", "sets,") + OK_SES)
w("sessions/empty.csv", b"")
w("sessions/header_only.csv", SES)
w("sessions/only_bom.csv", b"\xef\xbb\xbf")
w("sessions/extra_fields.csv", SES + OK_SES + "P00001,2025-01-06 09:00,bridge,,,2,12,5,3,4,3,0,false,true,app,surprise,more\n")
w("sessions/missing_fields.csv", SES + OK_SES + "P00001,2025-01-06 09:00,bridge\n")
w("sessions/nul_bytes.csv", SES.encode() + OK_SES.encode() + b"P00001,2025-01-06 09:00,bridge\x00\x00,,,2,12,5,3,4,3,0,false,true,app\n")
w("sessions/unknown_exercise.csv", SES + "P00001,2025-01-06 09:00,full_sit_up,,,2,12,5,3,4,3,0,false,true,app\n")
w("sessions/pain_out_of_range.csv", SES + "P00001,2025-01-06 09:00,bridge,,,2,12,5,3,11,3,0,false,true,app\n")
w("sessions/mixed_line_endings.csv", (SES + OK_SES).replace("\n", "\r\n", 1) + "P00001,2025-01-06 10:00,bridge,,,2,12,5,3,4,3,0,false,true,app\r")
full = gzip.compress((SES + OK_SES * 200).encode())
w("sessions/gzip_truncated.csv.gz", full[: len(full) // 2])
w("sessions/gzip_magic_then_garbage.csv.gz", b"\x1f\x8b" + os.urandom(0) + b"this is not deflate data at all" * 10)

# --- patients and outcomes ---
w("patients/duplicate_ids.csv", "patient_id,site,sex,birth_year,bmi,enrolled_on,stenosis,baseline_pain,baseline_odi,regimen\n"
  "P00001,north,female,1970,27,2025-01-06,false,5,30,six-moves\nP00001,south,male,1980,25,2025-01-07,true,6,40,six-moves\n")
w("outcomes/unknown_measure.csv", "patient_id,date,measure,value\nP00001,2025-01-06,happiness,7\nP00001,2025-01-06,nrs_pain,4\n")

# --- walking: CSV, NDJSON, Parquet ---
w("walking/negative_minutes.csv", WALK + OK_WALK + "P00001,2025-01-07,-45,5000,800,,accel\n")
w("walking/minutes_over_a_day.csv", WALK + "P00001,2025-01-07,1500,5000,800,,accel\n")
w("walking/future_date.csv", WALK + "P00001,2099-01-07,45,5000,800,,accel\n")
w("walking/ndjson_truncated.ndjson", '{"patient_id":"P00001","date":"2025-01-06","walking_min":45}\n{"patient_id":"P00001","date":"2025-01-07","walk')
w("walking/ndjson_array_lines.ndjson", '{"patient_id":"P00001","date":"2025-01-06","walking_min":45}\n[1,2,3]\n')
w("walking/ndjson_wrong_types.ndjson", '{"patient_id":"P00001","date":"2025-01-06","walking_min":"lots"}\n{"patient_id":42,"date":true,"walking_min":[1]}\n')
w("walking/ndjson_deeply_nested.ndjson", '{"patient_id":"P00001","date":"2025-01-06","walking_min":45}\n' + '{"a":' * 5000 + "1" + "}" * 5000 + "\n")
try:
    import polars as pl
    buf = io.BytesIO()
    pl.DataFrame({"patient_id": ["P00001"] * 1000, "date": ["2025-01-06"] * 1000, "walking_min": [45.0] * 1000}).write_parquet(buf)
    b = buf.getvalue()
    w("walking/parquet_truncated.parquet", b[: len(b) // 2])
except ImportError:
    w("walking/parquet_truncated.parquet", b"PAR1" + b"\x15\x04" * 100)
w("walking/parquet_garbage.parquet", b"PAR1" + b"not really parquet" * 50 + b"PAR1")

# --- walking: Apple Health ---
w("walking/apple_truncated.xml", apple([rec(), rec()])[:-40])
w("walking/apple_entity_expansion.xml",
  '<?xml version="1.0"?>\n<!DOCTYPE HealthData [\n<!ENTITY lol "lol">\n'
  + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i else "&lol;" * 10}">\n' for i in range(9))
  + ']>\n<HealthData>\n' + rec().replace('sourceName="iPhone"', 'sourceName="&lol8;"') + rec() + "</HealthData>\n")
w("walking/apple_deeply_nested.xml", '<?xml version="1.0"?>\n<HealthData>' + "<a>" * 50000 + "</a>" * 50000 + rec() + "</HealthData>\n")
w("walking/apple_bad_dates.xml", apple([rec(start=d) for d in ["06/01/2025 08:00:00 +0100", "2025-01-06T08:00:00Z", "2025-13-06 08:00:00 +0100",
                                                              "Jan 6, 2025 8:00 AM", "2025-01-06"]] + [rec()]))
w("walking/apple_negative_nan_values.xml", apple([rec(value="-5"), rec(value="NaN"), rec(value="lots"), rec(value="inf"), rec()]))
w("walking/apple_wrong_root.xml", '<?xml version="1.0"?>\n<ClinicalDocument>' + rec() + "</ClinicalDocument>\n")
w("walking/apple_not_a_zip.zip", b"PK\x03\x04" + b"\x00" * 30 + b"definitely not a zip")
zb = io.BytesIO()
with zipfile.ZipFile(zb, "w") as z:
    z.writestr("apple_health_export/export_cda.xml", "<ClinicalDocument/>")
    z.writestr("apple_health_export/readme.txt", "hello")
w("walking/apple_zip_without_export.zip", zb.getvalue())
zb = io.BytesIO()
with zipfile.ZipFile(zb, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("apple_health_export/export.xml", apple([rec()] * 2000))
b = zb.getvalue()
w("walking/apple_zip_truncated.zip", b[: len(b) // 2])
w("walking/apple_invalid_utf8.xml", apple([rec()]).encode().replace(b"iPhone", b"iPh\xff\xfeone"))
w("walking/apple_empty.xml", b"")
w("walking/apple_mismatched_tags.xml", '<?xml version="1.0"?>\n<HealthData>\n<Record type="HKQuantityTypeIdentifierStepCount" value="1" startDate="2025-01-06 08:00:00 +0100">\n</Workout>\n</HealthData>\n')

# --- walking: GGIR ---
G = "ID,filename,calendar_date,weekday,dur_day_total_MOD_min,dur_day_total_VIG_min,dur_day_spt_min,nonwear_perc_day_spt\n"
w("walking/ggir_na_everywhere.csv", G + "P00001,a.bin,2025-01-06,Monday,NA,NA,NA,NA\nP00001,a.bin,2025-01-07,Tuesday,30,5,1440,0\n")
w("walking/ggir_no_mvpa_columns.csv", "ID,calendar_date,dur_day_spt_min\nP00001,2025-01-06,1440\n")
w("walking/ggir_bad_dates.csv", G + "P00001,a.bin,06/01/2025,Monday,30,5,1440,0\nP00001,a.bin,2025-01-07,Tuesday,30,5,1440,0\n")
w("walking/ggir_negative_minutes.csv", G + "P00001,a.bin,2025-01-06,Monday,-30,5,1440,0\n")
w("walking/ggir_nonwear_over_100.csv", G + "P00001,a.bin,2025-01-06,Monday,30,5,1440,150\n")

# --- walking: FHIR ---
w("walking/fhir_wrong_resource.ndjson", "\n".join([obs(rt="Patient"), obs(rt="Condition"), obs()]) + "\n")
w("walking/fhir_unknown_codes.ndjson", "\n".join([obs(code="8867-4"), obs(code="29463-7"), obs()]) + "\n")
w("walking/fhir_bad_json_lines.ndjson", obs() + "\n{\"resourceType\": \"Observation\",\n" + obs(when="2025-01-07") + "\n")
w("walking/fhir_bundle_broken.json", '{\n "resourceType": "Bundle",\n "entry": [\n  {"resource": ' + obs() + "}\n")
w("walking/fhir_no_subject.ndjson", obs(subject="") + "\n" + obs() + "\n")
w("walking/fhir_string_values.ndjson", obs(value="many") + "\n" + obs(value=-3) + "\n")
w("walking/fhir_pain_out_of_range.ndjson", obs(code="72514-3", value=14) + "\n" + obs(code="72514-3", value=4) + "\n")
w("walking/fhir_empty_bundle.json", '{"resourceType": "Bundle", "type": "collection"}\n')

# --- hostile but small: limits, escaping, absurd dates, missing spellings ---
ESC = "\x1b[2J\x1b[31m"
w("sessions/control_chars_in_values.csv", SES + OK_SES + f"P00001,2025-01-06 09:00,bri{ESC}dge\u202e,,,2,12,5,3,4,3,0,false,true,app\n")
w("sessions/header_control_chars.csv", SES.replace("exercise", f"exer{ESC}cise") + OK_SES)
w("sessions/wide_header_5000_columns.csv", SES.rstrip("\n") + "".join(f",x{i}" for i in range(5000)) + "\n" + OK_SES)
w("sessions/missing_words_required.csv", SES + OK_SES + "NA,2025-01-06 09:00,bridge,,,2,12,5,3,4,3,0,false,true,app\n"
  + "P00001,.,bridge,,,2,12,5,3,4,3,0,false,true,app\n" + "P00001,2025-01-06 10:00,NULL,,,2,12,5,3,4,3,0,false,true,app\n"
  + "P00001,2025-01-06 11:00,bridge,NA,nan,NaN,null,.,NULL,,NA,.,null,nan,NA\n")
P = "patient_id,site,sex,birth_year,bmi,enrolled_on,stenosis,baseline_pain,baseline_odi,regimen\n"
w("patients/dates_before_1900.csv", P + "P00001,north,female,1970,27,0001-01-01,false,5,30,six-moves\n"
  "P00002,north,female,1970,27,1899-12-31,false,5,30,six-moves\nP00003,north,male,1970,27,1900-01-01,false,5,30,six-moves\n")
w("followup/missing_spellings.csv", "patient_id,baseline_date,end_date,event,event_date,bmi,smoker\n"
  "R1,2020-01-01,2024-01-01,false,NA,27.5,yes\nR2,2020-01-01,2024-01-01,false,.,NaN,NULL\n"
  "R3,2020-01-01,2024-01-01,NA,,nan,no\nR4,0001-01-01,2024-01-01,false,,31,\nR5,2020-01-01,2024-01-01,true,2022-02-02,.,null\n")
w("outcomes/missing_words.csv", "patient_id,date,measure,value\nP00001,2025-01-06,odi,NA\nP00001,.,odi,30\nP00001,2025-01-06,nrs_pain,4\n")
w("walking/ggir_missing_words.csv", G + "P00001,a.bin,2025-01-06,Monday,NULL,.,NaN,null\nP00001,a.bin,2025-01-07,Tuesday,30,.,1440,0\n")
w("walking/ndjson_control_keys.ndjson", '{"patient_id":"P00001","date":"2025-01-06","walking_min":45}\n'
  + json.dumps({"patient_id": "P0\x1b[31m1", "date": "2025-01-06", "walking_min": 45, "\x1b]0;title\x07": 1}) + "\n")
zb = io.BytesIO()
with zipfile.ZipFile(zb, "w") as z:
    for i in range(40):
        # Fixed dates, so the file is the same every time the corpus is made.
        z.writestr(zipfile.ZipInfo(f"apple_health_export/{ESC}\r{i}.xml", (2025, 1, 1, 0, 0, 0)), "<x/>")
w("walking/apple_zip_control_names.zip", zb.getvalue())

print(sum(1 for p in here.rglob("*") if p.is_file() and p.suffix not in (".py", ".md")), "files")
