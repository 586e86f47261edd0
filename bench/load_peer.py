# The same load-and-validate step in pandas: read, parse timestamps, set aside
# unparseable/future/pre-1970 rows and exact duplicates.
import sys, time
import pandas as pd
t = time.time()
df = pd.read_csv(sys.argv[1], dtype={"user_id": str, "event": str, "session_id": str}, engine="pyarrow")
ts = pd.to_datetime(df["timestamp"], utc=True, errors="coerce", format="ISO8601")
bad = ts.isna() | (ts < pd.Timestamp("1970-01-01", tz="UTC")) | (ts > pd.Timestamp.now(tz="UTC")) | df["user_id"].isna() | df["event"].isna()
df = df[~bad].assign(ts=ts[~bad])
dup = df.duplicated(subset=["user_id", "ts", "event", "value", "session_id"], keep="first")
df = df[~dup]
print(f"pandas: {len(df)} rows kept, {int(bad.sum())} bad, {int(dup.sum())} duplicates in {time.time()-t:.2f} s")
