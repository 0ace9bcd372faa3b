// Share panel: copy the page link or the embed snippet, with a fallback
// for browsers without the asynchronous clipboard (or without permission).

export async function copyText(text, fallbackInput) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch { /* permission refused: fall back to selecting the text */ }
  if (fallbackInput) {
    fallbackInput.focus();
    fallbackInput.select();
    try { return document.execCommand('copy'); } catch { return false; }
  }
  return false;
}

// wireCopy makes button copy the value of field; status announces the result.
export function wireCopy(button, field, status, t) {
  button.addEventListener('click', async () => {
    const ok = await copyText(field.value, field);
    status.textContent = t(ok ? 'watch.share.copied' : 'watch.share.copy_failed');
    button.dataset.copied = ok ? '1' : '';
  });
}

export function initShare(root, t) {
  const status = root.querySelector('#share-status');
  const url = root.querySelector('#share-url');
  const embed = root.querySelector('#embed-code');
  wireCopy(root.querySelector('#share-copy'), url, status, t);
  wireCopy(root.querySelector('#embed-copy'), embed, status, t);
  const share = root.querySelector('#share-native');
  if (share && navigator.share) {
    share.hidden = false;
    share.addEventListener('click', () => navigator.share({ title: document.title, url: url.value }).catch(() => {}));
  }
}
