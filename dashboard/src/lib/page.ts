// A page's loading and error state around what it fetches, and its actions: each action
// runs, then the page reloads; a failure of either shows the server's message.
import { ref } from "vue";

export function usePage(fetch: () => Promise<void>) {
  const loading = ref(true);
  const error = ref("");
  async function load(): Promise<void> {
    try {
      await fetch();
      error.value = "";
    } catch (e) {
      error.value = (e as Error).message;
    } finally {
      loading.value = false;
    }
  }
  async function run(action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
      await load();
    } catch (e) {
      error.value = (e as Error).message;
    }
  }
  return { loading, error, load, run };
}
