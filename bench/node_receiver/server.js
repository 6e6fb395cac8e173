// What a Hello Client customer would run from the vendor document: Express with express.json(),
// the document's signature check (HMAC over t + '.' + JSON.stringify(req.body)), and each lead
// inserted with better-sqlite3, WAL, synchronous=FULL: one fsync per lead before "success".
// A unique key on (SerialNumber, Type, SessionID, CreateTime) drops replays, as the app does.
const crypto = require('crypto');
const express = require('express');
const Database = require('better-sqlite3');

const webhookSigningKey = process.env.WEBHOOK_SIGNING_KEY;
const db = new Database(process.env.DB_PATH);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec(`CREATE TABLE IF NOT EXISTS lead (
  id INTEGER PRIMARY KEY,
  serial_number TEXT NOT NULL, type TEXT NOT NULL, session_id INTEGER NOT NULL,
  create_time TEXT NOT NULL, first_name TEXT, last_name TEXT, email TEXT, phone_number TEXT,
  content TEXT, uri TEXT, body TEXT NOT NULL, received_at TEXT NOT NULL,
  UNIQUE (serial_number, type, session_id, create_time))`);
const insert = db.prepare(`INSERT INTO lead (serial_number, type, session_id, create_time,
  first_name, last_name, email, phone_number, content, uri, body, received_at)
  VALUES (@SerialNumber, @Type, @SessionID, @CreateTime, @FirstName, @LastName, @Email,
  @PhoneNumber, @Content, @URI, @body, @received_at) ON CONFLICT DO NOTHING`);

function verify(req) {
  // The vendor document's code, as printed.
  const newoaksSignature = req.get('X-Webhook-Signature');
  const { t, signature } = newoaksSignature.split(',').reduce((acc, currentValue) => {
    const [key, value] = currentValue.split('=');
    if (key === 't') {
      acc.t = value;
    }
    if (key === 'v1') {
      acc.signature = value;
    }
    return acc;
  }, { t: '', signature: '' });
  if (!t || !signature) throw new Error('Invalid Signature');
  const data = t + '.' + JSON.stringify(req.body);
  const expectedSignature = crypto.createHmac('sha256', webhookSigningKey).update(data, 'utf8').digest('hex');
  if (expectedSignature !== signature) {
    throw new Error('Invalid Signature');
  }
}

const app = express();
app.post('/webhook', express.json(), (req, res) => {
  try {
    verify(req);
  } catch (err) {
    return res.status(401).json({ status: 'error', error: err.message });
  }
  const lead = req.body;
  insert.run({
    SerialNumber: lead.SerialNumber, Type: lead.Type, SessionID: lead.SessionID,
    CreateTime: lead.CreateTime, FirstName: lead.FirstName ?? null, LastName: lead.LastName ?? null,
    Email: lead.Email ?? null, PhoneNumber: lead.PhoneNumber ?? null, Content: lead.Content ?? null,
    URI: lead.URI ?? null, body: JSON.stringify(lead), received_at: new Date().toISOString(),
  });
  res.json({ status: 'success' });
});
app.listen(Number(process.env.PORT), '127.0.0.1');
