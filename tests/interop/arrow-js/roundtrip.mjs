// Strata's Arrow interoperability peer (apache-arrow for JavaScript).
//
//   node roundtrip.mjs read FILE    prints the file's schema and values as one JSON document
//   node roundtrip.mjs write FILE   writes a known table (several record batches) and prints it in the same JSON form
//
// JSON form: { batches, rows, fields: [{ name, type, nullable, metadata }], columns: { name: [value…] } }. Values are
// raw storage values so nothing is lost: int64, timestamps and dates as decimal strings in the column's own unit, floats
// as numbers or "NaN" / "Infinity" / "-Infinity" / "-0", strings as strings, null as null.
import { readFileSync, writeFileSync } from 'node:fs';
import * as arrow from 'apache-arrow';

const [command, file] = process.argv.slice(2);
if (!['read', 'write'].includes(command) || !file) {
  console.error('usage: node roundtrip.mjs read|write FILE');
  process.exit(2);
}

if (command === 'read') {
  const table = arrow.tableFromIPC(readFileSync(file));
  console.log(JSON.stringify(describe(table)));
} else {
  const table = knownTable();
  writeFileSync(file, arrow.tableToIPC(table, 'file'));
  console.log(JSON.stringify(describe(table)));
}

function describe(table) {
  const fields = table.schema.fields.map((f) => ({
    name: f.name,
    type: String(f.type),
    nullable: f.nullable,
    metadata: Object.fromEntries(f.metadata),
  }));
  const columns = {};
  for (const [index, field] of table.schema.fields.entries()) {
    const values = [];
    for (const batch of table.batches) {
      const vector = batch.getChildAt(index);
      for (const data of vector.data) {
        for (let i = 0; i < data.length; i++) {
          values.push(data.getValid(i) ? jsonValue(field.type, data, i) : null);
        }
      }
    }

    columns[field.name] = values;
  }

  return { batches: table.batches.length, rows: table.numRows, fields, columns };
}

function jsonValue(type, data, i) {
  switch (type.typeId) {
    case arrow.Type.Dictionary:
      return data.dictionary.get(Number(data.values[data.offset + i]));
    case arrow.Type.Int:
      return type.bitWidth === 64 ? String(data.values[data.offset + i]) : data.values[data.offset + i];
    case arrow.Type.Timestamp:
      return String(data.values[data.offset + i]);
    case arrow.Type.Date:
      return String(data.values[data.offset + i]);
    case arrow.Type.Float:
      return floatValue(new arrow.Vector([data]).get(i));
    default:
      return new arrow.Vector([data]).get(i);
  }
}

function floatValue(x) {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (Object.is(x, -0)) return '-0';
  return x;
}

// Three record batches; dictionaries grow from batch to batch, so the writer emits delta dictionary batches.
function knownTable() {
  const batches = [
    {
      flag: [true, null, false],
      small: [1, -2, null],
      big: [1n, -9007199254740993n, 9223372036854775807n],
      ratio: [1.5, null, -0],
      amount: [0.1, Number.NaN, null],
      city: ['Zürich', '', null],
      at: [0n, -1n, null],
      tiny: [-128, 127, null],
      count: [0, 4294967295, null],
      plain: ['x', null, 'Ünïcødé ✓'],
      day: [-1, 0, null],
      nanos: [-1n, 1_700_000_000_123_456_789n, null],
      code: ['a', 'b', null],
    },
    {
      flag: [true, true],
      small: [2147483647, -2147483648],
      big: [-9223372036854775808n, 0n],
      ratio: [Infinity, 3.25],
      amount: [-Infinity, 1e300],
      city: ['東京', 'Zürich'],
      at: [-62135596800000000n, 253402300799999999n],
      tiny: [0, 1],
      count: [7, 8],
      plain: ['', 'x'],
      day: [19000, -719162],
      nanos: [1n, 999n],
      code: ['c', 'a'],
    },
    {
      flag: [null, false, true, false],
      small: [0, 5, 6, null],
      big: [null, 42n, 43n, 44n],
      ratio: [null, 0.5, 2, 4],
      amount: [1, 2, 3, 4],
      city: [null, 'São Paulo', '', 'emoji 🙂'],
      at: [1700000000123456n, -86400000001n, 5n, null],
      tiny: [1, 2, 3, 4],
      count: [1, 2, 3, null],
      plain: [null, null, 'y', 'x'],
      day: [1, 2, 3, 4],
      nanos: [null, 0n, -999n, -1000n],
      code: ['d', null, 'b', 'e'],
    },
  ];

  const types = {
    flag: new arrow.Bool(),
    small: new arrow.Int32(),
    big: new arrow.Int64(),
    ratio: new arrow.Float32(),
    amount: new arrow.Float64(),
    city: new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32(), 0),
    at: new arrow.TimestampMicrosecond('UTC'),
    tiny: new arrow.Int8(),
    count: new arrow.Uint32(),
    plain: new arrow.Utf8(),
    day: new arrow.DateDay(),
    nanos: new arrow.TimestampNanosecond(),
    code: new arrow.Dictionary(new arrow.Utf8(), new arrow.Uint8(), 1),
  };

  const schema = new arrow.Schema(Object.entries(types).map(([name, type]) => new arrow.Field(name, type, true)));
  const builders = Object.fromEntries(
    Object.entries(types).map(([name, type]) => [name, arrow.makeBuilder({ type, nullValues: [null] })]),
  );
  const records = batches.map((batch) => {
    const length = batch.flag.length;
    const children = schema.fields.map((field) => {
      const values = batch[field.name];
      if (field.type.typeId === arrow.Type.Dictionary || field.type.typeId === arrow.Type.Bool
        || field.type.typeId === arrow.Type.Utf8 || (field.type.typeId === arrow.Type.Int && field.type.bitWidth < 64)) {
        // Builders keep the dictionary across flushes, so later batches carry deltas.
        const builder = builders[field.name];
        for (const v of values) builder.append(v);
        return builder.flush();
      }

      return rawData(field.type, values);
    });
    const data = arrow.makeData({ type: new arrow.Struct(schema.fields), length, nullCount: 0, children });
    return new arrow.RecordBatch(schema, data);
  });

  return new arrow.Table(schema, records);
}

// Numbers with exact storage: 64-bit values from BigInts, floats from numbers, days from integers.
function rawData(type, values) {
  const length = values.length;
  const ArrayType = type.ArrayType;
  const storage = new ArrayType(length);
  const nullBitmap = new Uint8Array(Math.ceil(length / 8));
  let nullCount = 0;
  values.forEach((v, i) => {
    if (v === null) {
      nullCount++;
      return;
    }

    nullBitmap[i >> 3] |= 1 << (i & 7);
    storage[i] = v;
  });

  return arrow.makeData({ type, length, nullCount, nullBitmap, data: storage });
}
