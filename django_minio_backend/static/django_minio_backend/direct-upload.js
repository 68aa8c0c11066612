/*
 * Direct uploads for django-minio-backend's DirectUploadWidget: the chosen file goes from the browser straight to
 * the bucket, and the form submits only the signed token the server hands back. Plain JavaScript, no build step.
 *
 * 1. POST {spec, name, size} to the ticket view (same origin, CSRF token, session cookie).
 * 2. Below the multipart threshold: one form POST to the bucket with the signed policy the ticket holds.
 *    Above it: parts sent in parallel with presigned PUTs (each URL accepts exactly its part's length),
 *    a failed part retried with a fresh URL, then the complete view finishes the upload on the server.
 * 3. The token goes into the hidden input; the form can be submitted.
 * Cancel aborts every request in flight and asks the abort view to drop what arrived.
 * The root element's data-dmb-state says where it is: uploading, done, failed, cancelled or refused.
 */
(function () {
  "use strict";

  var RETRIES = 3; // a part is sent at most 1 + RETRIES times
  var URL_BATCH = 20; // part URLs asked for in one call
  var KiB = 1024;
  var MiB = 1024 * 1024;

  function size(bytes) {
    if (bytes >= MiB) return (bytes / MiB).toFixed(1) + " MiB";
    if (bytes >= KiB) return (bytes / KiB).toFixed(1) + " KiB";
    return bytes + " B";
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function csrfToken(root) {
    var form = root.closest("form");
    var input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var found = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return found ? decodeURIComponent(found[1]) : "";
  }

  function s3Message(xhr) {
    var text = xhr.responseText || "";
    var code = text.match(/<Code>([^<]*)<\/Code>/);
    var message = text.match(/<Message>([^<]*)<\/Message>/);
    if (code) return code[1] + (message ? ": " + message[1] : "");
    return "HTTP " + xhr.status;
  }

  class UploadError extends Error {}

  class Upload {
    constructor(root, file) {
      this.root = root;
      this.file = file;
      this.data = root.dataset;
      this.progress = root.querySelector("[data-dmb-progress]");
      this.requests = new Set(); // XMLHttpRequests in flight
      this.loaded = new Map(); // part number (0 for a POST) -> bytes sent
      this.urls = new Map(); // part number -> Promise of its URL
      this.cancelled = false;
      this.ticket = null; // of a multipart upload
      this.token = null; // of a form POST
    }

    async call(url, body) {
      var response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(this.root) },
        body: JSON.stringify(body),
      });
      var answer = {};
      try { answer = await response.json(); } catch (ignored) { /* not JSON: the status says enough */ }
      if (!response.ok) throw new UploadError(answer.error || response.status + " " + response.statusText);
      return answer;
    }

    send(method, url, body, part) {
      var upload = this;
      return new Promise(function (resolve, reject) {
        if (upload.cancelled) { reject(new UploadError("Upload cancelled.")); return; }
        var xhr = new XMLHttpRequest();
        upload.requests.add(xhr);
        xhr.open(method, url);
        xhr.upload.onprogress = function (event) {
          upload.loaded.set(part, Math.min(event.loaded, body.size || event.loaded));
          upload.report();
        };
        xhr.onload = function () {
          upload.requests.delete(xhr);
          if (xhr.status >= 200 && xhr.status < 300) resolve(xhr);
          else reject(new UploadError("The storage refused the upload (" + s3Message(xhr) + ")."));
        };
        xhr.onerror = function () {
          upload.requests.delete(xhr);
          reject(new UploadError("The connection to the storage failed."));
        };
        xhr.onabort = function () {
          upload.requests.delete(xhr);
          reject(new UploadError("Upload cancelled."));
        };
        xhr.send(body);
      });
    }

    report() {
      var sent = 0;
      this.loaded.forEach(function (bytes) { sent += bytes; });
      sent = Math.min(sent, this.file.size);
      var percent = this.file.size ? Math.floor((100 * sent) / this.file.size) : 100;
      this.progress.max = 100;
      this.progress.value = percent;
      show(this.root, "Uploading " + this.file.name + ": " + size(sent) + " of " + size(this.file.size) +
        " (" + percent + " %)");
    }

    async run() {
      var ticket = await this.call(this.data.ticketUrl, {
        spec: this.data.spec, name: this.file.name, size: this.file.size,
      });
      if (ticket.mode === "post") {
        this.token = ticket.token;
        var form = new FormData();
        Object.keys(ticket.fields).forEach(function (name) { form.append(name, ticket.fields[name]); });
        form.append("file", this.file); // S3 reads the file from the form's last field
        await this.send("POST", ticket.url, form, 0);
        this.loaded.set(0, this.file.size);
        this.report();
        return ticket.token;
      }
      this.ticket = ticket.ticket;
      this.partSize = ticket.part_size;
      this.count = ticket.parts;
      var upload = this;
      var next = 1;
      async function worker() {
        while (next <= upload.count && !upload.cancelled) await upload.sendPart(next++);
      }
      var workers = [];
      var parallel = Math.max(1, parseInt(this.data.parallel, 10) || 4);
      for (var i = 0; i < Math.min(parallel, this.count); i++) workers.push(worker());
      await Promise.all(workers);
      if (this.cancelled) throw new UploadError("Upload cancelled.");
      var done = await this.call(this.data.completeUrl, { ticket: this.ticket });
      return done.token;
    }

    async sendPart(number) {
      var start = (number - 1) * this.partSize;
      var blob = this.file.slice(start, Math.min(start + this.partSize, this.file.size));
      for (var attempt = 0; ; attempt++) {
        try {
          var url = await this.partURL(number, attempt > 0);
          await this.send("PUT", url, blob, number);
          this.loaded.set(number, blob.size);
          this.report();
          return;
        } catch (error) {
          this.loaded.set(number, 0);
          if (this.cancelled || attempt >= RETRIES) throw error;
          await sleep(500 * Math.pow(2, attempt));
        }
      }
    }

    partURL(number, fresh) {
      if (fresh) this.urls.delete(number);
      if (!this.urls.has(number)) {
        var numbers = [];
        for (var n = number; n <= this.count && numbers.length < URL_BATCH; n++) {
          if (n === number || !this.urls.has(n)) numbers.push(n);
        }
        var batch = this.call(this.data.partsUrl, { ticket: this.ticket, numbers: numbers });
        var urls = this.urls;
        numbers.forEach(function (n) {
          var url = batch.then(function (answer) { return answer.urls[String(n)]; });
          url.catch(function () { urls.delete(n); }); // asked again by the next attempt
          urls.set(n, url);
        });
      }
      return this.urls.get(number);
    }

    stop() {
      this.cancelled = true;
      this.requests.forEach(function (xhr) { xhr.abort(); });
    }

    discard() {
      // Whatever arrived (parts, or a whole object) is deleted on the server's side.
      if (this.ticket) return this.call(this.data.abortUrl, { ticket: this.ticket });
      if (this.token) return this.call(this.data.abortUrl, { token: this.token });
      return Promise.resolve();
    }
  }

  function show(root, text) {
    var status = root.querySelector("[data-dmb-status]");
    if (status) status.textContent = text;
  }

  function settle(root, state, text) {
    root.dataset.dmbState = state;
    root.querySelector("[data-dmb-cancel]").hidden = true;
    show(root, text);
  }

  function start(root, file) {
    var previous = root._dmbUpload;
    var tokenInput = root.querySelector("[data-dmb-token]");
    root._dmbUpload = null;
    if (previous) {
      // A new choice replaces the previous upload: a running one stops (and cleans up after itself, below),
      // a finished one is deleted, since the form will not name it any more.
      var finished = root.dataset.dmbState === "done";
      previous.stop();
      if (finished) previous.discard().catch(function () { /* it expires on its own */ });
    }
    tokenInput.value = "";
    if (!file) { settle(root, "", ""); return; }
    var maxSize = parseInt(root.dataset.maxSize, 10);
    var minSize = parseInt(root.dataset.minSize, 10) || 1;
    if (file.size > maxSize) {
      settle(root, "refused", file.name + " is " + size(file.size) + "; at most " + size(maxSize) + " are allowed.");
      return;
    }
    if (file.size < minSize) {
      settle(root, "refused", file.size ? file.name + " is too small." : file.name + " is empty.");
      return;
    }
    var upload = new Upload(root, file);
    root._dmbUpload = upload;
    root.dataset.dmbState = "uploading";
    root.querySelector("[data-dmb-bar]").hidden = false;
    root.querySelector("[data-dmb-cancel]").hidden = false;
    upload.report();

    function stopped(error) {
      // Cancelled, failed or replaced: whatever reached the bucket is deleted before the state says so.
      var cancelled = upload.cancelled;
      upload.stop();
      var current = root._dmbUpload === upload;
      if (current) root.dataset.dmbState = "stopping";
      upload.discard().catch(function () { /* it expires on its own */ }).then(function () {
        if (!current || root._dmbUpload !== upload) return;
        if (cancelled) settle(root, "cancelled", "Upload cancelled.");
        else settle(root, "failed", "Upload failed: " + error.message);
      });
    }

    upload.run().then(function (token) {
      if (upload.cancelled) { stopped(new UploadError("Upload cancelled.")); return; }
      if (root._dmbUpload !== upload) return;
      tokenInput.value = token;
      upload.progress.value = 100;
      settle(root, "done", "Uploaded " + file.name + " (" + size(file.size) + ").");
    }, stopped);
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!(input instanceof HTMLInputElement) || !input.matches("[data-dmb-file]")) return;
    start(input.closest("[data-dmb-upload]"), input.files && input.files[0]);
  });

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element && event.target.closest("[data-dmb-cancel]");
    if (!button) return;
    var root = button.closest("[data-dmb-upload]");
    if (root._dmbUpload && root.dataset.dmbState === "uploading") {
      root._dmbUpload.cancelled = true;
      root._dmbUpload.stop();
    }
  });

  // A form is not submitted while one of its uploads is still running: it would arrive without the file.
  document.addEventListener("submit", function (event) {
    var busy = event.target.querySelectorAll('[data-dmb-upload][data-dmb-state="uploading"], ' +
      '[data-dmb-upload][data-dmb-state="stopping"]');
    if (busy.length) {
      event.preventDefault();
      busy.forEach(function (root) { show(root, "Please wait until the upload has finished."); });
    }
  }, true);
})();
