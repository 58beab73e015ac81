// PLACEHOLDER, replaced by the segment editor (h/editor). Contract with the shell (app.js):
//   mountEditor(container, {api, segment, onSaved(name), onCancel()}) -> {destroy()}
// segment: null for a new one, else {name, description, expression, version}.
export function mountEditor(container, {api, segment, onSaved, onCancel}) {
  const form = document.createElement("form");
  form.setAttribute("aria-label", segment ? `Edit segment ${segment.name}` : "New segment");
  form.innerHTML = `
    <p><label>Name <input name="name" required></label></p>
    <p><label>Description <input name="description"></label></p>
    <p><label>Segment <textarea name="expression" rows="6" cols="60" required></textarea></label></p>
    <p role="alert" class="error"></p>
    <p><button type="submit">Save</button> <button type="button" data-cancel>Cancel</button></p>`;
  form.name.value = segment ? segment.name : "";
  form.name.readOnly = Boolean(segment);
  form.description.value = (segment && segment.description) || "";
  form.expression.value = (segment && segment.expression) || "";
  form.querySelector("[data-cancel]").addEventListener("click", () => onCancel());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {text: form.expression.value, description: form.description.value || null};
    try {
      if (segment) await api.put(`segments/${encodeURIComponent(segment.name)}`, body);
      else await api.post("segments", {name: form.name.value, ...body});
      onSaved(form.name.value);
    } catch (error) {
      form.querySelector(".error").textContent = error.message;
    }
  });
  container.append(form);
  return {destroy: () => form.remove()};
}
