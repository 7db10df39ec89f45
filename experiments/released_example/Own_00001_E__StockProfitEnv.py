import gymnasium
import ast
import json


class StockProfitEnv(gymnasium.Env):
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.GET_PRICE = 1
        self.LOWER_MINIMUM = 2
        self.PROFIT_IF_SOLD = 3
        self.RAISE_BEST = 4
        self.DONE = 5
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "GetPrice": self.GET_PRICE,
            "LowerMinimum": self.LOWER_MINIMUM,
            "ProfitIfSold": self.PROFIT_IF_SOLD,
            "RaiseBest": self.RAISE_BEST,
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
        prefix = "StockProfitEnv@"
        if not env_str.startswith(prefix):
            return None
        return StockProfitEnv(env_str=env_str)

    def reset(self, options={}):
        self.prices = options.get("prices", [])
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        r"""
        Best profit of one buy followed by one later sell (0 if no profit is possible).
        """
        best, lowest = 0, None
        for price in self.prices:
            if lowest is not None:
                best = max(best, price - lowest)
            lowest = price if lowest is None else min(lowest, price)
        return best

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
            elif code == self.GET_PRICE:
                msg = self.GetPrice(params["day"]) if "day" in params else "Error: 'day' is missing."
            elif code == self.LOWER_MINIMUM:
                if "minimum" in params and "price" in params:
                    msg = self.LowerMinimum(params["minimum"], params["price"])
                else:
                    msg = "Error: 'minimum' or 'price' is missing."
            elif code == self.PROFIT_IF_SOLD:
                if "minimum" in params and "price" in params:
                    msg = self.ProfitIfSold(params["minimum"], params["price"])
                else:
                    msg = "Error: 'minimum' or 'price' is missing."
            elif code == self.RAISE_BEST:
                if "best" in params and "profit" in params:
                    msg = self.RaiseBest(params["best"], params["profit"])
                else:
                    msg = "Error: 'best' or 'profit' is missing."
            elif code == self.DONE:
                msg = self.Done(params["answer"]) if "answer" in params else "Error: 'answer' is missing."
        except Exception as e:
            msg = f"Error: {str(e)}"
        return True, msg

    def Observe(self):
        r"""
        Tell how many days of prices there are.

        Args:
            None

        Returns:
            str: The number of days.

        Example Output:
            "6"
        """
        return str(len(self.prices))

    def GetPrice(self, day: int):
        r"""
        Read the price of one day.

        Args:
            day (int): Day number, from 0.

        Returns:
            str: The price.

        Example Output:
            "7"
        """
        return str(self.prices[day])

    def LowerMinimum(self, minimum: int, price: int):
        r"""
        The smaller of the lowest price so far and a new price.

        Args:
            minimum (int): Lowest price so far.
            price (int): A new price.

        Returns:
            str: The new lowest price.

        Example Output:
            "1"
        """
        return str(min(minimum, price))

    def ProfitIfSold(self, minimum: int, price: int):
        r"""
        Profit of buying at the lowest price so far and selling at a price.

        Args:
            minimum (int): Lowest earlier price.
            price (int): Selling price.

        Returns:
            str: price - minimum.

        Example Output:
            "5"
        """
        return str(price - minimum)

    def RaiseBest(self, best: int, profit: int):
        r"""
        The larger of the best profit so far and a new profit.

        Args:
            best (int): Best profit so far.
            profit (int): A new profit.

        Returns:
            str: The new best profit.

        Example Output:
            "5"
        """
        return str(max(best, profit))

    def Done(self, answer):
        r"""
        Submit the best profit.

        Args:
            answer (int): The best profit.

        Returns:
            str: Verdict and reward.

        Example Output:
            "Your answer: 5, Reference answer: 5, Result: Correct, reward=1"
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
        days = int(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        minimum = int(self.step(json.dumps({"name": "GetPrice", "parameters": {"day": 0}}))[1])
        best = 0
        for day in range(1, days):
            price = int(self.step(json.dumps({"name": "GetPrice", "parameters": {"day": day}}))[1])
            profit = int(self.step(json.dumps({"name": "ProfitIfSold", "parameters": {"minimum": minimum, "price": price}}))[1])
            best = int(self.step(json.dumps({"name": "RaiseBest", "parameters": {"best": best, "profit": profit}}))[1])
            minimum = int(self.step(json.dumps({"name": "LowerMinimum", "parameters": {"minimum": minimum, "price": price}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": best}}))[1]


if __name__ == "__main__":
    env = StockProfitEnv.from_env_str('StockProfitEnv@{"prices": [7, 1, 5, 3, 6, 4]}')
    print(env.solve())
    print("step count:", env.step_count)
