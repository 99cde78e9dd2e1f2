// One confirmation dialog for the app: `await useConfirm().ask("Stop lead-gen?")`.
import { defineStore } from "pinia";
import { ref } from "vue";

export const useConfirm = defineStore("confirm", () => {
  const question = ref<{ title: string; detail: string; action: string } | null>(null);
  let answer: ((ok: boolean) => void) | null = null;

  function ask(title: string, detail = "", action = "Confirm"): Promise<boolean> {
    answer?.(false);
    question.value = { title, detail, action };
    return new Promise((resolve) => (answer = resolve));
  }

  function reply(ok: boolean): void {
    answer?.(ok);
    answer = null;
    question.value = null;
  }

  return { question, ask, reply };
});
