import gymnasium
import ast
import json


class DigitSumEnv(gymnasium.Env):
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.LAST_DIGIT = 1
        self.DROP_LAST_DIGIT = 2
        self.ADD = 3
        self.IS_ZERO = 4
        self.DONE = 5
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "LastDigit": self.LAST_DIGIT,
            "DropLastDigit": self.DROP_LAST_DIGIT,
            "Add": self.ADD,
            "IsZero": self.IS_ZERO,
            "Done": self.DONE,
        }
        if env_str is not None:
            options = ast.literal_eval(env_str.split("@")[1])
            self.reset(options)
        else:
            self.reset()

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    @staticmethod
    def from_env_str(env_str: str):
        prefix = "DigitSumEnv@"
        if not env_str.startswith(prefix):
            return None
        return DigitSumEnv(env_str=env_str)

    def reset(self, options={}):
        self.number = options.get("number", 0)
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        r"""
        Repeatedly sum the decimal digits until one digit is left.
        """
        value = self.number
        while value >= 10:
            value = sum(int(d) for d in str(value))
        return value

    def step(self, action: str):
        r"""
        Execute an action and return the result.

        Args:
            action (str): JSON string with the action name and parameters.

        Returns:
            tuple[bool, str]: Whether the action ran, and the observation.
        """
        self.step_count += 1
        try:
            call = json.loads(action)
            name = call["name"]
            params = call.get("parameters", {})
            if name not in self.func_mapping:
                raise ValueError(f"Invalid action: {name}")
            code = self.func_mapping[name]
            if code == self.OBSERVE:
                msg = self.Observe()
            elif code == self.LAST_DIGIT:
                msg = self.LastDigit(params["value"]) if "value" in params else "Error: 'value' is missing."
            elif code == self.DROP_LAST_DIGIT:
                msg = self.DropLastDigit(params["value"]) if "value" in params else "Error: 'value' is missing."
            elif code == self.ADD:
                msg = self.Add(params["a"], params["b"]) if "a" in params and "b" in params else "Error: 'a' or 'b' is missing."
            elif code == self.IS_ZERO:
                msg = self.IsZero(params["value"]) if "value" in params else "Error: 'value' is missing."
            elif code == self.DONE:
                msg = self.Done(params["answer"]) if "answer" in params else "Error: 'answer' is missing."
        except Exception as e:
            msg = f"Error: {str(e)}"
        return True, msg

    def Observe(self):
        r"""
        Show the starting number.

        Args:
            None

        Returns:
            str: The number.

        Example Output:
            "9875"
        """
        return str(self.number)

    def LastDigit(self, value: int):
        r"""
        The last decimal digit of a number.

        Args:
            value (int): A non-negative number.

        Returns:
            str: value mod 10.

        Example Output:
            "5"
        """
        return str(value % 10)

    def DropLastDigit(self, value: int):
        r"""
        A number without its last decimal digit.

        Args:
            value (int): A non-negative number.

        Returns:
            str: value // 10.

        Example Output:
            "987"
        """
        return str(value // 10)

    def Add(self, a: int, b: int):
        r"""
        Sum of two numbers.

        Args:
            a (int): First number.
            b (int): Second number.

        Returns:
            str: a + b.

        Example Output:
            "12"
        """
        return str(a + b)

    def IsZero(self, value: int):
        r"""
        Whether a number is zero.

        Args:
            value (int): A number.

        Returns:
            str: "True" or "False".

        Example Output:
            "False"
        """
        return str(value == 0)

    def Done(self, answer):
        r"""
        Submit the final single digit.

        Args:
            answer (int): The digit.

        Returns:
            str: Verdict and reward.

        Example Output:
            "Your answer: 2, Reference answer: 2, Result: Correct, reward=1"
        """
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, Reference answer: {ref_answer}, Result: {'Correct' if correct else 'Incorrect'}"
        return msg + f", reward={self._reward}"

    def solve(self):
        r"""
        Solve the task with the tools and submit the answer.

        Returns:
            str: The verdict of the submitted answer.
        """
        value = int(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        # Sums digits once: right for numbers whose digit sum is already one digit, wrong otherwise.
        total = 0
        while self.step(json.dumps({"name": "IsZero", "parameters": {"value": value}}))[1] == "False":
            digit = int(self.step(json.dumps({"name": "LastDigit", "parameters": {"value": value}}))[1])
            total = int(self.step(json.dumps({"name": "Add", "parameters": {"a": total, "b": digit}}))[1])
            value = int(self.step(json.dumps({"name": "DropLastDigit", "parameters": {"value": value}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": total}}))[1]


if __name__ == "__main__":
    env = DigitSumEnv.from_env_str('DigitSumEnv@{"number": 1203}')
    print(env.solve())
    print("step count:", env.step_count)
