set -e
cd "$(dirname "$0")/.."
python3 - > /tmp/tables.md <<'PY'
import json,glob
print("| Profile | Base | What it constrains |\n|---|---|---|")
for f in sorted(glob.glob('StructureDefinition-*.json')):
    sd=json.load(open(f))
    if sd['type']=='Extension': continue
    print(f"| [{sd['name']}]({f}) | {sd['type']} | {sd['description'].split('. ')[0].rstrip('.')}. |")
print("\n| Extension | Context | Value |\n|---|---|---|")
for f in sorted(glob.glob('StructureDefinition-*.json')):
    sd=json.load(open(f))
    if sd['type']!='Extension': continue
    v=[e for e in sd['differential']['element'] if e['id']=='Extension.value[x]'][0]
    print(f"| [{sd['name']}]({f}) | {', '.join(c['expression'] for c in sd['context'])} | {v['type'][0]['code']} |")
print("\n| Case | Profile | Expected error (expression → contains) | What is wrong |\n|---|---|---|---|")
for f in sorted(glob.glob('invalid/*.expect.json')):
    e=json.load(open(f)); n=f.split('/')[-1].replace('.expect.json','')
    print(f"| `{n}` | {e['profile'].split('/')[-1]} | " + "; ".join(f"`{x['expression']}` → \"{x['contains']}\" ({x['kind']})" for x in e['errors']) + f" | {e['description']} |")
print("\n| Resource | url | Codes from |\n|---|---|---|")
for f in sorted(glob.glob('terminology/*.json')):
    r=json.load(open(f))
    src = ", ".join(i['system'] for i in r['compose']['include']) if r['resourceType']=='ValueSet' else f"{r['count']} own codes"
    print(f"| {r['resourceType']} | `{r['url']}` | {src} |")
PY
cat tools/readme/readme_head.md /tmp/tables.md > /tmp/r.md
python3 - <<'PY'
t=open('/tmp/r.md').read()
a,b=t.split("\n| Case |",1); b="| Case |"+b
c,d=b.split("\n| Resource |",1); d="| Resource |"+d
out=a+open('tools/readme/readme_tail.md').read()+"\n"+c+"\n## Terminology (self-contained; integrator to reconcile with /terminology)\n\n"+d+open('tools/readme/readme_end.md').read()
open('README.md','w').write(out)
PY
grep -n "^## " README.md
