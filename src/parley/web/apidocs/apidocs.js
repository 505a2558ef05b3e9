// Renders /api/openapi.json as a readable list of operations. Text only, no HTML from the document.
const el = (tag, text, cls) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
};

function schemaBlock(title, schema) {
  const details = el("details");
  details.append(el("summary", title), el("pre", JSON.stringify(schema, null, 2)));
  return details;
}

function operation(path, method, op) {
  const section = el("section");
  const head = el("div");
  head.append(el("span", method, "method"), el("span", path, "path"));
  section.append(head, el("p", op.summary || ""));
  for (const p of op.parameters || []) section.append(el("div", `${p.in} parameter ${p.name}`));
  if (op.requestBody) section.append(schemaBlock("request body", op.requestBody.content["application/json"].schema));
  for (const [status, answer] of Object.entries(op.responses)) {
    const schema = answer.content && answer.content["application/json"].schema;
    if (schema && !status.startsWith("4")) section.append(schemaBlock(`${status}: ${answer.description}`, schema));
  }
  return section;
}

const doc = await (await fetch("/api/openapi.json")).json();
const main = document.getElementById("ops");
main.textContent = "";
for (const [path, ops] of Object.entries(doc.paths)) {
  for (const [method, op] of Object.entries(ops)) main.append(operation(path, method, op));
}
const schemas = el("section");
schemas.append(el("h2", "Schemas"));
for (const [name, schema] of Object.entries(doc.components.schemas)) schemas.append(schemaBlock(name, schema));
main.append(schemas);
